/**
 * The options of one Raft node, with defaults and validation against the limits. Membership is not
 * here: it comes from storage (the snapshot's configuration, then the conf changes in the log).
 */
import { RaftError } from "./errors.js";
import {
  election_ticks_max,
  election_ticks_min,
  inflight_bytes_max,
  inflight_messages_max,
  message_entries_bytes_max,
  node_id_length_max,
  uncommitted_entries_bytes_max,
} from "./limits.js";
import type { NodeId } from "./types.js";

/** The options of one Raft node. Ticks are abstract: the driver decides how long one lasts. */
export interface RaftConfig {
  /** This node's id (non-empty). */
  readonly id: NodeId;
  /** Ticks without hearing from a leader before a follower campaigns; randomized in [e, 2e). */
  readonly electionTicks: number;
  /** Ticks between leader heartbeats; must be less than electionTicks. */
  readonly heartbeatTicks: number;
  /** Run a pre-election that does not disturb the term unless it could win (thesis §9.6). */
  readonly preVote: boolean;
  /** A leader steps down when a quorum has not answered within an election timeout (thesis §6.2). */
  readonly checkQuorum: boolean;
  /** Most append messages in flight to one follower in replicate state. */
  readonly maxInflightMsgs: number;
  /** Most bytes of entries in flight to one follower in replicate state. */
  readonly maxInflightBytes: number;
  /** Most bytes of entries in one append message (one entry is always allowed). */
  readonly maxSizePerMsg: number;
  /** Most bytes of uncommitted proposals the leader accepts before dropping new ones. */
  readonly maxUncommittedEntriesBytes: number;
  /** Seed of the PRNG that draws election jitter. */
  readonly seed: number;
}

/** Defaults for everything but the id and the seed. */
export const defaultRaftOptions = {
  electionTicks: 10,
  heartbeatTicks: 1,
  preVote: true,
  checkQuorum: true,
  maxInflightMsgs: 256,
  maxInflightBytes: 16 * 1024 * 1024,
  maxSizePerMsg: 1024 * 1024,
  maxUncommittedEntriesBytes: 64 * 1024 * 1024,
} as const;

/** A full config from an id, a seed and any overrides of the defaults. */
export function raftConfig(options: { id: NodeId; seed: number } & Partial<RaftConfig>): RaftConfig {
  return { ...defaultRaftOptions, ...options };
}

/** Throws CONFIG_INVALID unless every option is within its limit. */
export function validateRaftConfig(config: RaftConfig): void {
  const fail = (message: string): never => {
    throw new RaftError("CONFIG_INVALID", message);
  };
  if (config.id.length === 0 || config.id.length > node_id_length_max) fail("id must be 1..128 characters");
  const inRange = (value: number, min: number, max: number): boolean =>
    Number.isSafeInteger(value) && value >= min && value <= max;
  if (!inRange(config.electionTicks, election_ticks_min, election_ticks_max))
    fail("electionTicks out of range");
  if (!inRange(config.heartbeatTicks, 1, config.electionTicks - 1))
    fail("heartbeatTicks must be < electionTicks");
  if (!inRange(config.maxInflightMsgs, 1, inflight_messages_max)) fail("maxInflightMsgs out of range");
  if (!inRange(config.maxInflightBytes, 1, inflight_bytes_max)) fail("maxInflightBytes out of range");
  if (!inRange(config.maxSizePerMsg, 1, message_entries_bytes_max)) fail("maxSizePerMsg out of range");
  if (!inRange(config.maxUncommittedEntriesBytes, 1, uncommitted_entries_bytes_max)) {
    fail("maxUncommittedEntriesBytes out of range");
  }
  if (!Number.isSafeInteger(config.seed)) fail("seed must be a safe integer");
}
