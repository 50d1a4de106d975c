/**
 * Validation of messages that arrive from the network, for the driver to run before step(): the core
 * trusts its inputs and asserts its invariants, so a malformed message must be rejected here, with
 * the stable code MESSAGE_INVALID, and never reach it. (Raft tolerates crashes, not lies: a
 * well-formed message from a faulty peer is out of scope.)
 */
import { RaftError } from "./errors.js";
import {
  learners_max,
  message_entries_bytes_max,
  message_entries_max,
  node_id_length_max,
  proposal_bytes_max,
  read_context_length_max,
  snapshot_bytes_max,
  voters_max,
} from "./limits.js";
import { entrySizeBytes } from "./storage.js";
import type { ConfState, Entry, Message, MessageType, Snapshot } from "./types.js";
import { MESSAGE_TYPES } from "./types.js";

const messageTypes: ReadonlySet<string> = new Set<MessageType>(MESSAGE_TYPES);

function fail(field: string, why: string): never {
  throw new RaftError("MESSAGE_INVALID", `${field}: ${why}`);
}

function record(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(field, "not an object");
  return value as Record<string, unknown>;
}

function count(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) fail(field, "not a count");
  return value;
}

function nodeId(value: unknown, field: string, allowEmpty: boolean): string {
  if (typeof value !== "string" || value.length > node_id_length_max) fail(field, "not a node id");
  if (value.length === 0 && !allowEmpty) fail(field, "empty node id");
  return value;
}

function ids(value: unknown, field: string, max: number): string[] {
  if (!Array.isArray(value) || value.length > max) fail(field, "not a list of node ids");
  return value.map((id, i) => nodeId(id, `${field}[${i}]`, false));
}

function entry(value: unknown, field: string): Entry {
  const e = record(value, field);
  if (e.type !== "normal" && e.type !== "confChange") fail(`${field}.type`, "unknown entry type");
  if (!(e.data instanceof Uint8Array) || e.data.byteLength > proposal_bytes_max)
    fail(`${field}.data`, "bad data");
  return {
    term: count(e.term, `${field}.term`),
    index: count(e.index, `${field}.index`),
    type: e.type,
    data: e.data,
  };
}

function confState(value: unknown, field: string): ConfState {
  const c = record(value, field);
  return {
    voters: ids(c.voters, `${field}.voters`, voters_max),
    learners: ids(c.learners, `${field}.learners`, learners_max),
  };
}

function snapshot(value: unknown, field: string): Snapshot {
  const s = record(value, field);
  const meta = record(s.metadata, `${field}.metadata`);
  if (!(s.data instanceof Uint8Array) || s.data.byteLength > snapshot_bytes_max)
    fail(`${field}.data`, "bad data");
  return {
    metadata: {
      index: count(meta.index, `${field}.metadata.index`),
      term: count(meta.term, `${field}.metadata.term`),
      confState: confState(meta.confState, `${field}.metadata.confState`),
    },
    data: s.data,
  };
}

/** Checks the shape and limits of a message from the network; throws MESSAGE_INVALID. */
export function validateMessage(value: unknown): Message {
  const m = record(value, "message");
  if (typeof m.type !== "string" || !messageTypes.has(m.type)) fail("type", "unknown message type");
  const type = m.type as MessageType;
  const term = count(m.term, "term");
  const index = count(m.index, "index");
  if (!Array.isArray(m.entries) || m.entries.length > message_entries_max)
    fail("entries", "not a bounded list");
  const entries = m.entries.map((e, i) => entry(e, `entries[${i}]`));
  let bytes = 0;
  entries.forEach((e, i) => {
    bytes += entrySizeBytes(e);
    if (e.index !== index + 1 + i) fail(`entries[${i}].index`, "entries must follow index contiguously");
    if (e.term > term) fail(`entries[${i}].term`, "an entry's term exceeds the message's");
    if (i > 0 && e.term < (entries[i - 1] as Entry).term) fail(`entries[${i}].term`, "entry terms decrease");
  });
  if (entries.length > 1 && bytes > message_entries_bytes_max) fail("entries", "too many bytes");
  if (entries.length > 0 && type !== "app") fail("entries", "only app messages carry entries");
  if (typeof m.reject !== "boolean" || typeof m.transfer !== "boolean")
    fail("reject", "flags must be booleans");
  if (typeof m.context !== "string" || m.context.length > read_context_length_max)
    fail("context", "bad context");
  if ((m.snapshot === null) !== (type !== "snap")) fail("snapshot", "exactly snap messages carry a snapshot");
  return {
    type,
    from: nodeId(m.from, "from", false),
    to: nodeId(m.to, "to", false),
    term,
    logTerm: count(m.logTerm, "logTerm"),
    index,
    entries,
    commit: count(m.commit, "commit"),
    reject: m.reject,
    rejectHint: count(m.rejectHint, "rejectHint"),
    snapshot: m.snapshot === null ? null : snapshot(m.snapshot, "snapshot"),
    context: m.context,
    transfer: m.transfer,
  };
}
