/**
 * The vocabulary of the consensus core: entries, hard state, configuration, snapshots and messages.
 * Every value here is plain data: the driver may serialize it however it likes.
 */

/** A node's identity. The node layer uses did:key strings; the simulator uses "n1".."n7". */
export type NodeId = string;

/** The id used where no node is meant (no vote, no known leader). */
export const NO_NODE: NodeId = "";

/** What an entry carries: application data, or an encoded {@link ConfChange}. */
export type EntryType = "normal" | "confChange";

/** One log entry. `index` starts at 1; `term` is the leader's term when it was proposed. */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** The state that must be durable before any message that depends on it is sent. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

/** A cluster configuration: voters decide, learners only receive the log. Disjoint sets. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/** A single-server membership change (one pending at a time, see README). */
export type ConfChangeType = "addVoter" | "addLearner" | "removeNode";

/** A membership change, carried in the data of a confChange entry. */
export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
}

/** Where a snapshot sits in the log, and the configuration in force at that index. */
export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

/** A state machine image up to and including `metadata.index`. */
export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

/** Every message kind exchanged between nodes. */
export type MessageType =
  | "preVote"
  | "preVoteResp"
  | "vote"
  | "voteResp"
  | "app"
  | "appResp"
  | "heartbeat"
  | "heartbeatResp"
  | "snap"
  | "timeoutNow"
  | "readIndex"
  | "readIndexResp";

/** Every message type, in a fixed order (drivers may use the position as a wire code: append only). */
export const MESSAGE_TYPES: readonly MessageType[] = [
  "preVote",
  "preVoteResp",
  "vote",
  "voteResp",
  "app",
  "appResp",
  "heartbeat",
  "heartbeatResp",
  "snap",
  "timeoutNow",
  "readIndex",
  "readIndexResp",
];

/**
 * One message. A flat record (as in etcd) so that drivers can encode it without a schema per kind;
 * fields a kind does not use hold their zero value.
 */
export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  /** app: term of the entry at `index`; vote: candidate's last term; appResp reject: hint term. */
  readonly logTerm: number;
  /** app: index preceding `entries`; vote: candidate's last index; appResp: match or rejected index. */
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly reject: boolean;
  /** appResp reject: the follower's last index, to skip the probe backwards. */
  readonly rejectHint: number;
  readonly snapshot: Snapshot | null;
  /** readIndex/heartbeat: the read request this message serves ("" for none). */
  readonly context: string;
  /** vote: the campaign follows a leader transfer and may break a leader lease. */
  readonly transfer: boolean;
}

/** The outcome of a ReadIndex request: reads at or after `index` applied are linearizable. */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}

/** A node's role in its current term. */
export type Role = "follower" | "preCandidate" | "candidate" | "leader";

/** The volatile state worth telling the driver about. */
export interface SoftState {
  readonly lead: NodeId;
  readonly role: Role;
}

const noEntries: readonly Entry[] = [];

/** Builds a message with every unused field at its zero value. */
export function message(fields: Pick<Message, "type" | "from" | "to" | "term"> & Partial<Message>): Message {
  return {
    type: fields.type,
    from: fields.from,
    to: fields.to,
    term: fields.term,
    logTerm: fields.logTerm ?? 0,
    index: fields.index ?? 0,
    entries: fields.entries ?? noEntries,
    commit: fields.commit ?? 0,
    reject: fields.reject ?? false,
    rejectHint: fields.rejectHint ?? 0,
    snapshot: fields.snapshot ?? null,
    context: fields.context ?? "",
    transfer: fields.transfer ?? false,
  };
}

/** Whether two hard states are equal. */
export function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a conf change as the data of a confChange entry ("type:nodeId", UTF-8). */
export function encodeConfChange(change: ConfChange): Uint8Array {
  return encoder.encode(change.type + ":" + change.nodeId);
}

/** Decodes the data of a confChange entry; throws on anything else (it was written by a leader). */
export function decodeConfChange(data: Uint8Array): ConfChange {
  const text = decoder.decode(data);
  const colon = text.indexOf(":");
  const type = text.slice(0, colon);
  const nodeId = text.slice(colon + 1);
  if ((type === "addVoter" || type === "addLearner" || type === "removeNode") && nodeId.length > 0) {
    return { type, nodeId };
  }
  throw new TypeError("not an encoded conf change: " + text);
}
