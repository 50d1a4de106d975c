/**
 * Typed errors with stable codes. Callers test `error.code`, never `instanceof` or the message.
 * An expected operating condition (a compacted index, a proposal to a follower) is a RaftError with
 * its own code; a broken invariant is a RaftError with code INVARIANT and must stop the node loudly.
 */

/** Every stable error code of the consensus package, with a one-line meaning. */
export const RAFT_ERROR_CODES = {
  COMPACTED: "the requested index precedes the first index kept by storage",
  UNAVAILABLE: "the requested index follows the last index in storage",
  SNAPSHOT_OUT_OF_DATE: "the snapshot is older than the one storage already holds",
  SNAPSHOT_TEMPORARILY_UNAVAILABLE: "storage cannot produce a snapshot right now",
  PROPOSAL_DROPPED: "the proposal was not appended (transfer in progress, or too many uncommitted bytes)",
  NOT_LEADER: "only the leader accepts proposals, conf changes and transfers",
  CONF_CHANGE_PENDING:
    "another membership change is not yet committed, or the leader has no entry of its term committed",
  CONF_CHANGE_INVALID: "the membership change does not apply to the current configuration",
  CONFIG_INVALID: "the node configuration breaks a limit or a rule",
  MESSAGE_INVALID: "a message from the network has the wrong shape or breaks a limit",
  INVARIANT: "an internal invariant does not hold (a bug, never bad input)",
} as const;

/** A stable error code of the consensus package. */
export type RaftErrorCode = keyof typeof RAFT_ERROR_CODES;

/** The one error class of the consensus package; `code` is stable, `message` is for humans. */
export class RaftError extends Error {
  override readonly name = "RaftError";
  readonly code: RaftErrorCode;

  constructor(code: RaftErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** Asserts an invariant; a failure is a bug and throws a RaftError with code INVARIANT. */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new RaftError("INVARIANT", message);
}

/** Whether a thrown value is a RaftError with the given code. */
export function isRaftError(error: unknown, code: RaftErrorCode): error is RaftError {
  return error instanceof RaftError && error.code === code;
}
