/**
 * Typed errors with stable codes. Callers test `error.code`, never `instanceof` or the message.
 * Every error the protocol package throws on bad input is a ProtocolError; anything else is a bug.
 */

/** Every stable error code the protocol package uses, with a one-line meaning. */
export const PROTOCOL_ERROR_CODES = {
  ENCODING_INVALID: "bytes are not valid canonical CBOR of the expected shape",
  ENCODING_TOO_LARGE: "an encoding exceeds its size limit",
  FIELD_INVALID: "a field has the wrong type, length, range or format",
  FIELD_MISSING: "a required field is absent",
  FIELD_UNKNOWN: "an object carries a field the format does not define",
  FIELD_TOO_LARGE: "a field exceeds its size or count limit",
  KIND_UNKNOWN: "the transaction kind is not one this protocol defines",
  DID_INVALID: "a string is not a valid did:key for an ed25519 public key",
  KEY_INVALID: "a key has the wrong length or encoding",
  KEY_FILE_INVALID: "a key file is malformed",
  SIGNATURE_INVALID: "a signature does not verify",
  CHAIN_MISMATCH: "the object belongs to another chain",
  MERKLE_PROOF_INVALID: "a Merkle proof is malformed or does not match its root",
  BLOCK_INVALID: "a block breaks a structural or chaining rule",
  STATE_INVARIANT: "a state invariant does not hold (a bug, not bad input)",
  REQUEST_SIGNATURE_INVALID:
    "a signed HTTP request's signature headers are missing, malformed, or do not match or verify against the request",
  REQUEST_STALE:
    "a signed HTTP request's created time is further from the server's clock than the allowed skew",
} as const;

/** A stable error code of the protocol package. */
export type ProtocolErrorCode = keyof typeof PROTOCOL_ERROR_CODES;

/** The one error class of the protocol package; `code` is stable, `message` is for humans. */
export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
  readonly code: ProtocolErrorCode;
  /** A dotted path to the offending field, when there is one (e.g. `body.categories[2]`). */
  readonly field: string | undefined;

  constructor(code: ProtocolErrorCode, message: string, options: { field?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options.field;
  }
}

/** Throws a ProtocolError with `code` unless `condition` holds. */
export function check(
  condition: boolean,
  code: ProtocolErrorCode,
  message: string,
  field?: string,
): asserts condition {
  if (!condition) throw new ProtocolError(code, message, field === undefined ? {} : { field });
}

/** True when `value` is a ProtocolError (by name and code, so it works across realms and copies). */
export function isProtocolError(value: unknown): value is ProtocolError {
  return (
    value instanceof Error &&
    value.name === "ProtocolError" &&
    typeof (value as { code?: unknown }).code === "string"
  );
}

/** Fails loudly on a broken invariant: a bug in this code, never a reaction to bad input. */
export function invariant(condition: boolean, message: string): asserts condition {
  if (!condition) throw new ProtocolError("STATE_INVARIANT", `invariant broken: ${message}`);
}
