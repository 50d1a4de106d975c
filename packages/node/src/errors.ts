/**
 * Typed errors with stable codes. Callers test `error.code`, never `instanceof` or the message.
 * Every error the node package throws on an expected condition is a NodeError; anything else is a bug.
 */

/** Every stable error code the node package uses, with a one-line meaning. */
export const NODE_ERROR_CODES = {
  OPTIONS_INVALID: "an option passed to the node is missing, malformed or out of range",
  NOT_STARTED: "the service is not running (never started, or stopped)",
  ALREADY_STARTED: "the service was started twice",
  PEER_INVALID: "a string is not a valid ed25519 libp2p peer id",
  PEER_NOT_ALLOWED: "the remote peer is not a current member's node",
  NETWORK_TIMEOUT: "a network operation did not finish in time",
  FRAME_TOO_LARGE: "a frame exceeds its size limit",
  FRAME_MALFORMED: "a frame's length prefix is broken",
  MESSAGE_TOO_LARGE: "a gossip message exceeds its size limit",
  REQUEST_TOO_LARGE: "a request payload exceeds its size limit",
  RESPONSE_TOO_LARGE: "a response payload exceeds the size the caller accepts",
  REQUEST_REFUSED: "the remote peer refused the request (no handler, or the handler failed)",
  REQUEST_FAILED: "the request stream failed before a response arrived",
  BUSY: "too many operations are in flight",
  NODE_INVARIANT: "an invariant of the node does not hold (a bug, not bad input)",
  WIRE_INVALID: "a message from a peer is malformed, out of bounds or for another chain",
  MEMPOOL_FULL: "the mempool is full: try again later",
  TX_INVALID: "a transaction failed decoding, its chain, liveness or signature checks",
  TX_COMMITTED: "the transaction is already committed",
  NOT_LEADER: "this node is not the leader",
  LEDGER_DIVERGED: "a committed block does not match this node's state (a bug or a faulty leader)",
  STORAGE_CORRUPT: "the chain database is damaged or is not a chain database",
  STORAGE_FULL: "the disk holding the chain database is full: writes are refused until space returns",
  STORAGE_IO: "the operating system failed a read or write of the chain database",
  STORAGE_CLOSED: "the chain database is closed",
  STORAGE_READONLY: "the chain database was opened read-only",
  MIGRATION_FAILED: "a schema migration failed, was rewritten, or the database is newer than this code",
  NOT_EMPTY: "the operation needs an empty chain database (or state) and this one holds data",
  BLOCK_NOT_NEXT: "the block does not follow the stored tip, or a block at its height or hash exists",
  APP_HASH_MISMATCH: "applying a committed block gave another app hash than its header",
  STATE_CHUNK_INVALID: "a state snapshot chunk is malformed, out of order or does not match the tip",
  VAULT_HASH_MISMATCH: "a record's plaintext does not hash to the content hash it was put with",
  VAULT_RECORD_EXISTS: "the vault already holds this record, or held it and erased it",
  VAULT_TOO_LARGE: "a record's plaintext exceeds the vault's size limit",
  VAULT_CORRUPT:
    "a vault record failed authentication: its row was altered or wrapped under another master key",
  VAULT_KEY_INVALID: "the vault master key file is malformed, too widely readable, or not this vault's key",
  VAULT_RECORD_INVALID: "a record's metadata (id, patient, category, format, content hash) is malformed",
  VAULT_ERASE_INCOMPLETE: "an erasure committed but the WAL could not be truncated yet: call erase again",
  VAULT_CLOSED: "the vault is closed",
} as const;

/** A stable error code of the node package. */
export type NodeErrorCode = keyof typeof NODE_ERROR_CODES;

/** The one error class of the node package; `code` is stable, `message` is for humans. */
export class NodeError extends Error {
  override readonly name = "NodeError";
  readonly code: NodeErrorCode;

  constructor(code: NodeErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** True when `value` is a NodeError (by name and code, so it works across realms and copies). */
export function isNodeError(value: unknown): value is NodeError {
  return (
    value instanceof Error &&
    value.name === "NodeError" &&
    typeof (value as { code?: unknown }).code === "string"
  );
}

/** True when `value` is a NodeError with the given code. */
export function hasNodeErrorCode(value: unknown, code: NodeErrorCode): boolean {
  return isNodeError(value) && value.code === code;
}

/** Fails loudly on a broken invariant: a bug in this code, never a reaction to bad input. */
export function invariant(condition: boolean, message: string): asserts condition {
  if (!condition) throw new NodeError("NODE_INVARIANT", `invariant broken: ${message}`);
}
