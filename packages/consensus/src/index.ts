/**
 * @medledger/consensus: a pure Raft core in the shape of etcd's raft. See README.md for the Ready
 * contract, the membership-change choice and the simulator.
 */
export type { RaftConfig } from "./config.js";
export { defaultRaftOptions, raftConfig, validateRaftConfig } from "./config.js";
export type { RaftErrorCode } from "./errors.js";
export { assert, isRaftError, RAFT_ERROR_CODES, RaftError } from "./errors.js";
export * from "./limits.js";
export { RaftLog } from "./log.js";
export type { ConfPoint } from "./membership.js";
export { applyConfChange, confStateEqual, validateConfChange } from "./membership.js";
export { Prng } from "./prng.js";
export type { ProgressState } from "./progress.js";
export { Inflights, Progress } from "./progress.js";
export type { BasicStatus, ProgressStatus, RaftStatus } from "./raft.js";
export { Raft } from "./raft.js";
export type { RaftFactory, RawNodeOptions, Ready } from "./rawnode.js";
export { createRaft, RawNode } from "./rawnode.js";
export type { InitialState, Storage } from "./storage.js";
export { bootstrapSnapshot, entrySizeBytes, limitSize, MemoryStorage } from "./storage.js";
export type {
  ConfChange,
  ConfChangeType,
  ConfState,
  Entry,
  EntryType,
  HardState,
  Message,
  MessageType,
  NodeId,
  ReadState,
  Role,
  Snapshot,
  SnapshotMetadata,
  SoftState,
} from "./types.js";
export {
  decodeConfChange,
  encodeConfChange,
  hardStateEqual,
  MESSAGE_TYPES,
  message,
  NO_NODE,
} from "./types.js";
export { validateMessage } from "./validate.js";
