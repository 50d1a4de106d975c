/**
 * Channel 1, direct frames (Raft). One long-lived outbound stream per peer carries length-prefixed frames
 * from a bounded queue; `send` never blocks: when the queue is full the frame is dropped and counted
 * (Raft tolerates loss). Writes honour stream back-pressure ('drain'). A failed stream drops what was
 * queued and is reopened after a backoff. An inbound frame over the size limit, or a broken length
 * prefix, makes the sender a misbehaving peer.
 */

import type { Connection, Stream, StreamMessageEvent } from "@libp2p/interface";
import { NodeError } from "../errors.js";
import {
  dial_timeout_ms,
  direct_frame_bytes_max,
  direct_queue_bytes_max,
  direct_queue_frames_max,
  direct_queues_total_bytes_max,
  direct_reopen_backoff_initial_ms,
  direct_reopen_backoff_max_ms,
  direct_write_batch_bytes_max,
  peers_max,
} from "../limits.js";
import type { Logger } from "../logger.js";
import { encodeFrames, FrameDecoder } from "./framing.js";
import { parsePeerId } from "./identity.js";
import type { DropReason, NetworkMetrics } from "./metrics.js";
import type { NetworkFaults } from "./options.js";
import { asError, closeAfterRemote, decodeMessage, type OpenStream } from "./streams.js";

/** Receives one direct frame from `peer`. It runs on the network's event loop turn: keep it short. */
export type DirectHandler = (peer: string, frame: Uint8Array) => void;

/** Called when a peer breaks the wire protocol; the network logs, counts, bans and disconnects it. */
export type MisbehaviourCallback = (peer: string, error: NodeError) => void;

/** What the direct channel needs from the network. */
export interface DirectChannelOptions {
  readonly openStream: OpenStream;
  readonly logger: Logger;
  readonly metrics: NetworkMetrics;
  readonly faults: NetworkFaults | undefined;
  readonly onMisbehaviour: MisbehaviourCallback;
}

/** Byte accounting shared by every peer's queue, so that all queues together stay bounded. */
interface QueueBudget {
  bytes: number;
  frames: number;
}

/** The direct channel: per-peer outbound queues and streams, and the inbound stream handler. */
export class DirectChannel {
  readonly #options: DirectChannelOptions;
  readonly #senders = new Map<string, PeerSender>();
  readonly #budget: QueueBudget = { bytes: 0, frames: 0 };
  readonly #dropOutbound: NetworkFaults["dropOutbound"];
  readonly #dropInbound: NetworkFaults["dropInbound"];
  #handler: DirectHandler | undefined;

  constructor(options: DirectChannelOptions) {
    this.#options = options;
    this.#dropOutbound = options.faults?.dropOutbound?.bind(options.faults);
    this.#dropInbound = options.faults?.dropInbound?.bind(options.faults);
  }

  /** Sets the handler of inbound frames (replacing any previous one). */
  onDirect(handler: DirectHandler): void {
    this.#handler = handler;
  }

  /** Queues `frame` for `peer`; false when it was dropped (queue full, peer unreachable). */
  send(peer: string, frame: Uint8Array): boolean {
    if (frame.byteLength > direct_frame_bytes_max) {
      throw new NodeError("FRAME_TOO_LARGE", `frame of ${frame.byteLength} bytes exceeds the direct limit`);
    }
    if (this.#dropOutbound?.(peer, "direct") === true) {
      this.#options.metrics.frameDropped("direct", "fault");
      return true;
    }
    return this.#senderFor(peer).enqueue(frame);
  }

  /** Frames queued for `peer` and not yet written. */
  queuedFrames(peer: string): number {
    return this.#senders.get(peer)?.queuedFrames ?? 0;
  }

  /** Clears the reopen backoff of `peer` (it just connected). */
  peerConnected(peer: string): void {
    this.#senders.get(peer)?.clearBackoff();
  }

  /** Forgets the sender of `peer` (it is no longer a member's node), dropping its queue. */
  forget(peer: string): void {
    this.#senders.get(peer)?.close();
    this.#senders.delete(peer);
  }

  /** Closes every outbound stream and drops every queue. */
  stop(): void {
    for (const sender of this.#senders.values()) sender.close();
    this.#senders.clear();
  }

  /** The libp2p stream handler of the direct protocol. */
  handleInbound(stream: Stream, connection: Connection): void {
    const peer = connection.remotePeer.toString();
    const decoder = new FrameDecoder(direct_frame_bytes_max);
    const onMessage = (event: StreamMessageEvent): void => {
      let frames: Uint8Array[];
      try {
        frames = decodeMessage(decoder, event);
      } catch (error) {
        stream.removeEventListener("message", onMessage);
        this.#options.onMisbehaviour(peer, error as NodeError);
        stream.abort(asError(error));
        return;
      }
      for (const frame of frames) this.#deliver(peer, frame);
    };
    stream.addEventListener("message", onMessage);
    closeAfterRemote(stream);
  }

  #deliver(peer: string, frame: Uint8Array): void {
    const metrics = this.#options.metrics;
    if (this.#dropInbound?.(peer, "direct") === true) {
      metrics.frameDropped("direct", "fault");
      return;
    }
    const handler = this.#handler;
    if (handler === undefined) {
      metrics.frameDropped("direct", "no_handler");
      return;
    }
    metrics.frameIn("direct", frame.byteLength);
    try {
      handler(peer, frame);
    } catch (error) {
      this.#options.logger.error("direct handler threw", { peer, error });
    }
  }

  #senderFor(peer: string): PeerSender {
    const existing = this.#senders.get(peer);
    if (existing !== undefined) return existing;
    parsePeerId(peer);
    if (this.#senders.size >= peers_max) throw new NodeError("BUSY", `more than ${peers_max} direct peers`);
    const sender = new PeerSender(peer, this.#options, this.#budget);
    this.#senders.set(peer, sender);
    return sender;
  }
}

/** One peer's outbound queue and long-lived stream. State changes only in this class's methods. */
class PeerSender {
  readonly #peer: string;
  readonly #options: DirectChannelOptions;
  readonly #budget: QueueBudget;
  #queue: Uint8Array[] = [];
  #head = 0;
  #queuedBytes = 0;
  #stream: Stream | undefined;
  #pumping = false;
  #closed = false;
  #retryAt = 0;
  #backoffMs = direct_reopen_backoff_initial_ms;
  readonly #abort = new AbortController();

  constructor(peer: string, options: DirectChannelOptions, budget: QueueBudget) {
    this.#peer = peer;
    this.#options = options;
    this.#budget = budget;
  }

  /** Frames queued and not yet written. */
  get queuedFrames(): number {
    return this.#queue.length - this.#head;
  }

  /** Queues one frame; false when it was dropped. */
  enqueue(frame: Uint8Array): boolean {
    const reason = this.#refusal(frame.byteLength);
    if (reason !== undefined) {
      this.#options.metrics.frameDropped("direct", reason);
      return false;
    }
    this.#queue.push(frame);
    this.#queuedBytes += frame.byteLength;
    this.#budget.bytes += frame.byteLength;
    this.#budget.frames += 1;
    this.#options.metrics.queueDepth("direct", this.#budget.frames);
    if (!this.#pumping) this.#startPump();
    return true;
  }

  /** Lets the next send reopen the stream at once. */
  clearBackoff(): void {
    this.#retryAt = 0;
    this.#backoffMs = direct_reopen_backoff_initial_ms;
  }

  /** Drops the queue and closes the stream; the sender is not used again. */
  close(): void {
    this.#closed = true;
    this.#abort.abort(new NodeError("NOT_STARTED", "direct channel stopped"));
    this.#dropQueue(undefined);
    const stream = this.#stream;
    this.#stream = undefined;
    stream?.close().catch((error: unknown) => stream.abort(asError(error)));
  }

  #refusal(bytes: number): DropReason | undefined {
    if (this.#closed) return "unreachable";
    if (this.#retryAt !== 0 && Date.now() < this.#retryAt) return "unreachable";
    if (this.queuedFrames >= direct_queue_frames_max) return "queue_full";
    if (this.#queuedBytes + bytes > direct_queue_bytes_max) return "queue_full";
    if (this.#budget.bytes + bytes > direct_queues_total_bytes_max) return "queue_full";
    return undefined;
  }

  #startPump(): void {
    this.#pumping = true;
    this.#pump()
      .catch((error: unknown) => this.#onFailure("stream_failed", error, this.#stream))
      .finally(() => {
        this.#pumping = false;
        if (this.queuedFrames > 0 && !this.#closed) this.#startPump();
      });
  }

  /** Writes queued frames in batches until the queue is empty; stops at the first failure. */
  async #pump(): Promise<void> {
    while (this.queuedFrames > 0 && !this.#closed) {
      const stream = this.#stream ?? (await this.#openOrUndefined());
      if (stream === undefined) return;
      if (!(await this.#write(stream))) return;
    }
  }

  /** Writes one batch, waiting for 'drain' when the stream says its buffer is full; false on failure. */
  async #write(stream: Stream): Promise<boolean> {
    const batch = this.#takeBatch();
    try {
      if (!stream.send(batch)) await stream.onDrain({ signal: this.#abort.signal });
      this.#backoffMs = direct_reopen_backoff_initial_ms;
      return true;
    } catch (error) {
      this.#onFailure("stream_failed", error, stream);
      return false;
    }
  }

  async #openOrUndefined(): Promise<Stream | undefined> {
    try {
      return await this.#open();
    } catch (error) {
      this.#onFailure("unreachable", error, undefined);
      return undefined;
    }
  }

  async #open(): Promise<Stream> {
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(dial_timeout_ms)]);
    const stream = await this.#options.openStream(this.#peer, signal);
    if (this.#closed) {
      stream.abort(new NodeError("NOT_STARTED", "direct channel stopped"));
      throw new NodeError("NOT_STARTED", "direct channel stopped");
    }
    stream.addEventListener("close", () => this.#onStreamClosed(stream), { once: true });
    this.#stream = stream;
    this.#retryAt = 0;
    this.#options.logger.debug("direct stream opened", { peer: this.#peer });
    return stream;
  }

  /** Encodes queued frames, oldest first, up to one batch's worth of bytes (at least one frame). */
  #takeBatch(): Uint8Array {
    const frames: Uint8Array[] = [];
    let bytes = 0;
    while (this.#head < this.#queue.length && (frames.length === 0 || bytes < direct_write_batch_bytes_max)) {
      const frame = this.#queue[this.#head]!;
      this.#head += 1;
      frames.push(frame);
      bytes += frame.byteLength;
    }
    this.#dequeued(frames.length, bytes);
    for (const frame of frames) this.#options.metrics.frameOut("direct", frame.byteLength);
    return encodeFrames(frames);
  }

  #dequeued(frames: number, bytes: number): void {
    this.#queuedBytes -= bytes;
    this.#budget.bytes -= bytes;
    this.#budget.frames -= frames;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#options.metrics.queueDepth("direct", this.#budget.frames);
  }

  #dropQueue(reason: DropReason | undefined): void {
    const frames = this.queuedFrames;
    if (reason !== undefined)
      for (let i = 0; i < frames; i++) this.#options.metrics.frameDropped("direct", reason);
    this.#head = this.#queue.length;
    this.#dequeued(frames, this.#queuedBytes);
  }

  #onStreamClosed(stream: Stream): void {
    if (this.#stream === stream) this.#stream = undefined;
  }

  /** A failed open or write: drop the queue, forget the stream, back off before the next attempt. */
  #onFailure(reason: DropReason, error: unknown, stream: Stream | undefined): void {
    if (this.#closed) return;
    if (this.#stream === stream) this.#stream = undefined;
    stream?.abort(asError(error));
    this.#dropQueue(reason);
    this.#retryAt = Date.now() + this.#backoffMs;
    this.#options.logger.debug("direct stream failed", {
      peer: this.#peer,
      error,
      backoff_ms: this.#backoffMs,
    });
    this.#backoffMs = Math.min(this.#backoffMs * 2, direct_reopen_backoff_max_ms);
  }
}
