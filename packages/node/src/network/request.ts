/**
 * Channel 2, request/response (block and snapshot catch-up). One short stream per request: the caller
 * writes one length-prefixed request and closes its end; the server answers with one length-prefixed
 * frame (a status byte, then the payload) and closes its end. Sizes are bounded on both sides, the caller
 * bounds the time, and every failure is a NodeError with a stable code.
 */

import type { Connection, Stream } from "@libp2p/interface";
import { hasNodeErrorCode, isNodeError, NodeError } from "../errors.js";
import {
  request_bytes_max,
  request_serve_timeout_max_ms,
  request_timeout_max_ms,
  requests_in_flight_max,
  response_bytes_max,
} from "../limits.js";
import type { Logger } from "../logger.js";
import type { MisbehaviourCallback } from "./direct.js";
import { encodeFrame } from "./framing.js";
import type { NetworkMetrics } from "./metrics.js";
import type { NetworkFaults } from "./options.js";
import { asError, type OpenStream, readOneFrame } from "./streams.js";

/** Answers one request from `peer`; a rejection is sent back as a refusal. */
export type RequestHandler = (peer: string, payload: Uint8Array) => Promise<Uint8Array>;

/** The bounds of one request. */
export interface RequestOptions {
  /** How long the whole exchange may take, 1 to `request_timeout_max_ms`. */
  readonly timeoutMs: number;
  /** The largest response accepted, 0 to `response_bytes_max` (default `response_bytes_max`). */
  readonly maxResponseBytes?: number;
}

/** What the request channel needs from the network. */
export interface RequestChannelOptions {
  readonly openStream: OpenStream;
  readonly logger: Logger;
  readonly metrics: NetworkMetrics;
  readonly faults: NetworkFaults | undefined;
  readonly onMisbehaviour: MisbehaviourCallback;
}

const status_ok = 0;
const status_refused = 1;

/** The request/response channel: outbound requests and the inbound stream handler. */
export class RequestChannel {
  readonly #options: RequestChannelOptions;
  readonly #abort = new AbortController();
  #handler: RequestHandler | undefined;
  #inFlight = 0;

  constructor(options: RequestChannelOptions) {
    this.#options = options;
  }

  /** Sets the handler of inbound requests (replacing any previous one). */
  onRequest(handler: RequestHandler): void {
    this.#handler = handler;
  }

  /** Aborts every request in flight, outbound and inbound. */
  stop(): void {
    this.#abort.abort(new NodeError("NOT_STARTED", "request channel stopped"));
  }

  /** Sends `payload` to `peer` and resolves with its response payload. */
  async request(peer: string, payload: Uint8Array, options: RequestOptions): Promise<Uint8Array> {
    const maxResponseBytes = checkRequest(payload, options);
    if (this.#inFlight >= requests_in_flight_max) throw new NodeError("BUSY", "too many requests in flight");
    this.#inFlight += 1;
    this.#options.metrics.queueDepth("request", this.#inFlight);
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(options.timeoutMs)]);
    try {
      if (this.#options.faults?.dropOutbound?.(peer, "request") === true) return await lostRequest(signal);
      return await this.#exchange(peer, payload, maxResponseBytes, signal);
    } catch (error) {
      throw requestError(error, signal);
    } finally {
      this.#inFlight -= 1;
      this.#options.metrics.queueDepth("request", this.#inFlight);
    }
  }

  async #exchange(peer: string, payload: Uint8Array, maxResponseBytes: number, signal: AbortSignal) {
    const stream = await this.#options.openStream(peer, signal);
    try {
      const response = readOneFrame(stream, maxResponseBytes + 1, signal);
      response.catch(() => {});
      stream.send(encodeFrame(payload));
      this.#options.metrics.frameOut("request", payload.byteLength);
      await stream.close({ signal });
      const frame = await response;
      this.#options.metrics.frameIn("request", frame.byteLength);
      return parseResponse(frame);
    } catch (error) {
      stream.abort(asError(error));
      throw error;
    }
  }

  /** The libp2p stream handler of the request protocol. */
  handleInbound(stream: Stream, connection: Connection): void {
    const peer = connection.remotePeer.toString();
    const timeout = AbortSignal.timeout(request_serve_timeout_max_ms);
    const signal = AbortSignal.any([this.#abort.signal, timeout]);
    const onAbort = (): void => stream.abort(asError(signal.reason));
    signal.addEventListener("abort", onAbort, { once: true });
    stream.addEventListener("close", () => signal.removeEventListener("abort", onAbort), { once: true });
    this.#serve(peer, stream, signal).catch((error: unknown) => this.#serveFailed(peer, stream, error));
  }

  async #serve(peer: string, stream: Stream, signal: AbortSignal): Promise<void> {
    const request = await readOneFrame(stream, request_bytes_max, signal);
    if (this.#options.faults?.dropInbound?.(peer, "request") === true) {
      this.#options.metrics.frameDropped("request", "fault");
      return stream.abort(new NodeError("REQUEST_FAILED", "request dropped by a fault hook"));
    }
    this.#options.metrics.frameIn("request", request.byteLength);
    const response = await this.#answer(peer, request);
    stream.send(encodeFrame(response));
    this.#options.metrics.frameOut("request", response.byteLength - 1);
    await stream.close({ signal });
  }

  /** The response frame for `request`: status_ok and the handler's payload, or status_refused. */
  async #answer(peer: string, request: Uint8Array): Promise<Uint8Array> {
    const handler = this.#handler;
    if (handler === undefined) return refusal();
    try {
      const payload = await handler(peer, request);
      if (payload.byteLength > response_bytes_max) {
        this.#options.logger.error("response over the limit refused", { peer, bytes: payload.byteLength });
        return refusal();
      }
      return okResponse(payload);
    } catch (error) {
      this.#options.logger.warn("request handler failed", { peer, error });
      return refusal();
    }
  }

  #serveFailed(peer: string, stream: Stream, error: unknown): void {
    if (hasNodeErrorCode(error, "FRAME_TOO_LARGE") || hasNodeErrorCode(error, "FRAME_MALFORMED")) {
      this.#options.onMisbehaviour(peer, error as NodeError);
    } else {
      this.#options.logger.debug("inbound request failed", { peer, error });
    }
    stream.abort(asError(error));
  }
}

/** Validates a request's payload and options; returns the response bound. */
function checkRequest(payload: Uint8Array, options: RequestOptions): number {
  if (payload.byteLength > request_bytes_max) {
    throw new NodeError(
      "REQUEST_TOO_LARGE",
      `request of ${payload.byteLength} bytes exceeds ${request_bytes_max}`,
    );
  }
  const timeoutMs = options.timeoutMs;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > request_timeout_max_ms) {
    throw new NodeError(
      "OPTIONS_INVALID",
      `timeoutMs must be an integer from 1 to ${request_timeout_max_ms}`,
    );
  }
  const maxResponseBytes = options.maxResponseBytes ?? response_bytes_max;
  if (!Number.isInteger(maxResponseBytes) || maxResponseBytes < 0 || maxResponseBytes > response_bytes_max) {
    throw new NodeError(
      "OPTIONS_INVALID",
      `maxResponseBytes must be an integer from 0 to ${response_bytes_max}`,
    );
  }
  return maxResponseBytes;
}

function parseResponse(frame: Uint8Array): Uint8Array {
  const status = frame[0];
  if (status === status_ok) return frame.subarray(1);
  if (status === status_refused && frame.byteLength === 1) {
    throw new NodeError("REQUEST_REFUSED", "the peer refused the request");
  }
  throw new NodeError("REQUEST_FAILED", "malformed response");
}

function okResponse(payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(payload.byteLength + 1);
  frame[0] = status_ok;
  frame.set(payload, 1);
  return frame;
}

function refusal(): Uint8Array {
  return Uint8Array.of(status_refused);
}

/** A request the fault hooks dropped behaves like a lost one: it times out. */
function lostRequest(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

/** Maps any failure of a request to a NodeError with a stable code. */
function requestError(error: unknown, signal: AbortSignal): NodeError {
  if (hasNodeErrorCode(error, "FRAME_TOO_LARGE")) {
    return new NodeError("RESPONSE_TOO_LARGE", "the response exceeds maxResponseBytes", { cause: error });
  }
  if (isNodeError(error) && error.code !== "REQUEST_FAILED") return error;
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    if (isNodeError(reason)) return reason;
    return new NodeError("NETWORK_TIMEOUT", "the request timed out", { cause: error });
  }
  if (error instanceof Error && error.name === "DialDeniedError") {
    return new NodeError("PEER_NOT_ALLOWED", "the peer is not allowed", { cause: error });
  }
  if (isNodeError(error)) return error;
  return new NodeError("REQUEST_FAILED", "the request stream failed", { cause: error });
}
