/**
 * State transfer over the request channel, for a node installing a Raft snapshot. The server opens a
 * consistent export per session and hands out one chunk per request; the client reads a session to
 * the end. Sessions are bounded in number and expire when idle; every field is checked on both sides.
 * The same server hands out stored blocks, newest first, to a node back-filling the history its
 * snapshot skipped (backfill.ts).
 *
 *   request  ["state-open"]            -> ["ok", session, height, blockHash, appHash, appliedIndex]
 *   request  ["state-next", session]   -> ["ok", chunk | null]
 *   request  ["blocks-down", top, n]   -> ["ok", [block encodings from `top` down, contiguous]]
 *   error                              -> ["error", code]
 */
import { decode, encode } from "cborg";
import { NodeError } from "../errors.js";
import type { Clock } from "./clock.js";
import { state_session_idle_ms, state_sessions_max, state_transfer_chunks_max } from "./limits.js";
import type { LedgerHistory, LedgerSnapshots, StateStream, StateTip } from "./store.js";

/** Sends a request to a peer and resolves with its response. */
export type Requester = (peer: string, payload: Uint8Array, timeoutMs: number) => Promise<Uint8Array>;

interface Session {
  readonly stream: StateStream;
  cancelExpiry: () => void;
}

/** Serves state exports to peers. */
export class StateServer {
  private readonly sessions = new Map<number, Session>();
  private nextId = 1;

  constructor(
    private readonly snapshots: LedgerSnapshots,
    private readonly clock: Clock,
    private readonly history?: LedgerHistory,
  ) {}

  /** Answers one request (never throws: errors are answered with a code). */
  handle(payload: Uint8Array): Uint8Array {
    try {
      return encode(this.dispatch(decodeList(payload)));
    } catch (error) {
      const code = error instanceof NodeError ? error.code : "REQUEST_FAILED";
      return encode(["error", code]);
    }
  }

  /** Closes every session. */
  close(): void {
    for (const id of [...this.sessions.keys()]) this.end(id);
  }

  private dispatch(request: unknown[]): unknown[] {
    if (request[0] === "state-open" && request.length === 1) return this.open();
    if (request[0] === "state-next" && request.length === 2 && typeof request[1] === "number") {
      return this.next(request[1]);
    }
    if (request[0] === "blocks-down" && request.length === 3 && isUint(request[1]) && isUint(request[2])) {
      if (this.history === undefined) throw new NodeError("NOT_STARTED", "this node serves no blocks");
      return ["ok", this.history.encodedDown(request[1], request[2])];
    }
    throw new NodeError("WIRE_INVALID", "unknown state-transfer request");
  }

  private open(): unknown[] {
    if (this.sessions.size >= state_sessions_max) throw new NodeError("BUSY", "too many state exports");
    const id = this.nextId++;
    const stream = this.snapshots.exportState();
    this.sessions.set(id, { stream, cancelExpiry: () => undefined });
    this.touch(id);
    const { tip } = stream;
    return ["ok", id, tip.height, tip.blockHash, tip.appHash, tip.appliedIndex];
  }

  private next(id: number): unknown[] {
    const session = this.sessions.get(id);
    if (session === undefined) throw new NodeError("NOT_STARTED", "no such state export (expired?)");
    const chunk = session.stream.next();
    if (chunk === null) this.end(id);
    else this.touch(id);
    return ["ok", chunk];
  }

  private touch(id: number): void {
    const session = this.sessions.get(id);
    if (session === undefined) return;
    session.cancelExpiry();
    session.cancelExpiry = this.clock.after(state_session_idle_ms, () => this.end(id));
  }

  private end(id: number): void {
    const session = this.sessions.get(id);
    if (session === undefined) return;
    session.cancelExpiry();
    session.stream.close();
    this.sessions.delete(id);
  }
}

/** Reads a whole state export from `peer`: its tip and its chunks, in order. */
export async function fetchState(
  request: Requester,
  peer: string,
  timeoutMs: number,
): Promise<{ tip: StateTip; chunks: Uint8Array[] }> {
  const opened = expectOk(decodeList(await request(peer, encode(["state-open"]), timeoutMs)), 6);
  const [, session, height, blockHash, appHash, appliedIndex] = opened;
  if (
    typeof session !== "number" ||
    !isUint(height) ||
    !isUint(appliedIndex) ||
    !isHash(blockHash) ||
    !isHash(appHash)
  ) {
    throw new NodeError("WIRE_INVALID", "a malformed state-open answer");
  }
  const chunks: Uint8Array[] = [];
  for (;;) {
    if (chunks.length > state_transfer_chunks_max)
      throw new NodeError("WIRE_INVALID", "too many state chunks");
    const answer = expectOk(decodeList(await request(peer, encode(["state-next", session]), timeoutMs)), 2);
    const chunk = answer[1];
    if (chunk === null) break;
    if (!(chunk instanceof Uint8Array)) throw new NodeError("WIRE_INVALID", "a state chunk is a byte string");
    chunks.push(chunk);
  }
  return { tip: { height, blockHash, appHash, appliedIndex }, chunks };
}

/**
 * Asks `peer` for at most `count` stored blocks from height `top` down: their encodings, newest first
 * (checked only for shape here: the caller checks them down the hash chain). Empty: the peer lacks `top`.
 */
export async function fetchBlocksDown(
  request: Requester,
  peer: string,
  top: number,
  count: number,
  timeoutMs: number,
): Promise<Uint8Array[]> {
  const answer = expectOk(decodeList(await request(peer, encode(["blocks-down", top, count]), timeoutMs)), 2);
  const blocks = answer[1];
  if (!Array.isArray(blocks) || blocks.length > count || !blocks.every((b) => b instanceof Uint8Array)) {
    throw new NodeError("WIRE_INVALID", "a malformed blocks-down answer");
  }
  return blocks as Uint8Array[];
}

function expectOk(answer: unknown[], length: number): unknown[] {
  if (answer[0] === "error") {
    throw new NodeError("REQUEST_REFUSED", `the peer refused the request: ${String(answer[1])}`);
  }
  if (answer[0] !== "ok" || answer.length !== length)
    throw new NodeError("WIRE_INVALID", "a malformed answer");
  return answer;
}

function decodeList(payload: Uint8Array): unknown[] {
  let value: unknown;
  try {
    value = decode(payload, { strict: true, useMaps: false, allowUndefined: false });
  } catch (cause) {
    throw new NodeError("WIRE_INVALID", "a state-transfer message is not valid CBOR", { cause });
  }
  if (!Array.isArray(value)) throw new NodeError("WIRE_INVALID", "a state-transfer message is a list");
  return value;
}

function isUint(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function isHash(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === 32;
}
