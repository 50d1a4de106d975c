/**
 * The wire form of Raft messages on the direct channel: a CBOR array per message, decoded defensively.
 * Every field is checked for type and bound, then by the core's own validateMessage, before the message
 * reaches the consensus core; a frame that fails is answered by disconnecting the sender (the caller's
 * business), never by a crash.
 */
import type { ConfState, Entry, Message, Snapshot } from "@medledger/consensus";
import {
  learners_max,
  MESSAGE_TYPES,
  node_id_length_max,
  RaftError,
  validateMessage,
  voters_max,
} from "@medledger/consensus";
import { decode, encode } from "cborg";
import { NodeError } from "../errors.js";
import { raft_context_bytes_max, raft_message_entries_max } from "./limits.js";

/** Wire version of the Raft message encoding. */
export const RAFT_WIRE_VERSION = 1;

const DECODE_OPTIONS = {
  strict: true,
  useMaps: false,
  rejectDuplicateMapKeys: true,
  allowUndefined: false,
  allowInfinity: false,
  allowNaN: false,
  allowBigInt: false,
  allowIndefinite: false,
} as const;

/** Encodes a Raft message for the direct channel. */
export function encodeRaftMessage(m: Message): Uint8Array {
  return encode([
    RAFT_WIRE_VERSION,
    MESSAGE_TYPES.indexOf(m.type), // the position in the core's list is the wire code
    m.from,
    m.to,
    m.term,
    m.logTerm,
    m.index,
    m.entries.map((entry) => [entry.term, entry.index, entry.type === "normal" ? 0 : 1, entry.data]),
    m.commit,
    m.reject,
    m.rejectHint,
    m.snapshot === null ? null : encodeSnapshotFields(m.snapshot),
    m.context,
    m.transfer,
  ]);
}

/** Decodes and validates a Raft message; throws NodeError WIRE_INVALID on anything malformed. */
export function decodeRaftMessage(bytes: Uint8Array): Message {
  let value: unknown;
  try {
    value = decode(bytes, DECODE_OPTIONS);
  } catch (cause) {
    throw new NodeError("WIRE_INVALID", "a Raft frame is not valid CBOR", { cause });
  }
  const fields = list(value, "message", 14, 14);
  if (fields[0] !== RAFT_WIRE_VERSION) fail(`unknown Raft wire version ${String(fields[0])}`);
  const typeIndex = uint(fields[1], "type");
  const type = MESSAGE_TYPES[typeIndex];
  if (type === undefined) fail(`unknown Raft message type ${typeIndex}`);
  const decoded: Message = {
    type,
    from: nodeId(fields[2], "from"),
    to: nodeId(fields[3], "to"),
    term: uint(fields[4], "term"),
    logTerm: uint(fields[5], "logTerm"),
    index: uint(fields[6], "index"),
    entries: list(fields[7], "entries", 0, raft_message_entries_max).map(decodeEntry),
    commit: uint(fields[8], "commit"),
    reject: bool(fields[9], "reject"),
    rejectHint: uint(fields[10], "rejectHint"),
    snapshot: fields[11] === null ? null : decodeSnapshotFields(fields[11]),
    context: text(fields[12], "context", raft_context_bytes_max),
    transfer: bool(fields[13], "transfer"),
  };
  try {
    return validateMessage(decoded); // what the core assumes: contiguous entries, ordered terms, bounds
  } catch (cause) {
    if (cause instanceof RaftError) throw new NodeError("WIRE_INVALID", cause.message, { cause });
    throw cause;
  }
}

function encodeSnapshotFields(snapshot: Snapshot): unknown[] {
  const { index, term, confState } = snapshot.metadata;
  return [index, term, [...confState.voters], [...confState.learners], snapshot.data];
}

function decodeSnapshotFields(value: unknown): Snapshot {
  const fields = list(value, "snapshot", 5, 5);
  const confState: ConfState = {
    voters: list(fields[2], "snapshot.voters", 0, voters_max).map((id) => nodeId(id, "snapshot.voters")),
    learners: list(fields[3], "snapshot.learners", 0, learners_max).map((id) =>
      nodeId(id, "snapshot.learners"),
    ),
  };
  return {
    metadata: { index: uint(fields[0], "snapshot.index"), term: uint(fields[1], "snapshot.term"), confState },
    data: bytes(fields[4], "snapshot.data"),
  };
}

function decodeEntry(value: unknown): Entry {
  const fields = list(value, "entry", 4, 4);
  const type = fields[2];
  if (type !== 0 && type !== 1) fail("entry type must be 0 (normal) or 1 (confChange)");
  return {
    term: uint(fields[0], "entry.term"),
    index: uint(fields[1], "entry.index"),
    type: type === 0 ? "normal" : "confChange",
    data: bytes(fields[3], "entry.data"),
  };
}

function fail(message: string): never {
  throw new NodeError("WIRE_INVALID", message);
}

function list(value: unknown, field: string, min: number, max: number): unknown[] {
  if (!Array.isArray(value) || value.length < min || value.length > max) {
    fail(`${field} must be a list of ${min} to ${max} items`);
  }
  return value;
}

function uint(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    fail(`${field} must be an unsigned safe integer`);
  }
  return value;
}

function bool(value: unknown, field: string): boolean {
  if (typeof value !== "boolean") fail(`${field} must be a boolean`);
  return value;
}

function bytes(value: unknown, field: string): Uint8Array {
  if (!(value instanceof Uint8Array)) fail(`${field} must be a byte string`);
  return value;
}

function text(value: unknown, field: string, max: number): string {
  if (typeof value !== "string" || value.length > max) fail(`${field} must be a string of at most ${max}`);
  return value;
}

function nodeId(value: unknown, field: string): string {
  if (typeof value !== "string" || value.length > node_id_length_max) {
    fail(`${field} must be a node id of at most ${node_id_length_max} characters`);
  }
  return value;
}
