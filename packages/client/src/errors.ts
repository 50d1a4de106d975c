/**
 * The client's one error class. Every failure a caller sees is a ClientError with a stable `code`:
 * the API's own code (VALIDATION_FAILED, ACCESS_DENIED, GONE, ...: docs/api.md) with the HTTP status
 * and the body's details, or one of CLIENT_ERROR_CODES for what happened on this side (a timeout, a
 * network failure, a proof that does not verify). Callers test `code`, never `instanceof`.
 */

/** The codes this client raises itself (HTTP `status` 0 unless a response caused them). */
export const CLIENT_ERROR_CODES = {
  CLIENT_TIMEOUT: "no complete answer within the request's timeout",
  CLIENT_NETWORK: "the request failed before an answer arrived (connection refused, reset, DNS)",
  CLIENT_ABORTED: "the caller's AbortSignal ended the request",
  CLIENT_RESPONSE_INVALID: "the answer is not the JSON the API documents for this route",
  CLIENT_HTTP_ERROR: "an error status without the API's error body (a proxy in between?)",
  CLIENT_PROOF_INVALID: "an inclusion proof, block hash or signature does not verify locally",
  CLIENT_CONTENT_MISMATCH: "a disclosed record's content does not hash to its contentHash",
  CLIENT_CHAIN_UNKNOWN: "no chain id: pass `chain` or call client.txBuilder() to read it from /status",
  CLIENT_AUTH_MISSING: "the route needs a signing identity or the client's admin token",
  CLIENT_INPUT_INVALID: "an argument is malformed (see field)",
  CLIENT_STREAM_INVALID: "the event stream broke its framing or a bound (line or event too long)",
  TX_REJECTED: "the transaction committed but its rule failed (see reason)",
} as const;

/** A code raised by the client itself. */
export type ClientErrorCode = keyof typeof CLIENT_ERROR_CODES;

/** What a ClientError carries besides code, status and message (the API error body's extra fields). */
export interface ClientErrorDetails {
  /** The offending input (for VALIDATION_FAILED, TX_INVALID, CLIENT_INPUT_INVALID). */
  readonly field?: string;
  /** A protocol error code or a rule's reason code (`no-consent`, `SIGNATURE_INVALID`, ...). */
  readonly reason?: string;
  /** For ACCESS_DENIED: the committed decision. */
  readonly decision?: string;
  /** The transaction id (hex) the error is about, when there is one. */
  readonly tx?: string;
  /** The server's Retry-After, in seconds (429 and 503 answers). */
  readonly retryAfterSeconds?: number;
  readonly cause?: unknown;
}

/** Every failure of the client: `code` is the API's stable code or a CLIENT_* code. */
export class ClientError extends Error {
  override readonly name = "ClientError";
  /** The API's stable code (docs/api.md) or one of CLIENT_ERROR_CODES. */
  readonly code: string;
  /** The HTTP status of the answer, or 0 when no answer caused the error. */
  readonly status: number;
  readonly field?: string;
  readonly reason?: string;
  readonly decision?: string;
  readonly tx?: string;
  readonly retryAfterSeconds?: number;

  constructor(code: string, status: number, message: string, details: ClientErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.status = status;
    if (details.field !== undefined) this.field = details.field;
    if (details.reason !== undefined) this.reason = details.reason;
    if (details.decision !== undefined) this.decision = details.decision;
    if (details.tx !== undefined) this.tx = details.tx;
    if (details.retryAfterSeconds !== undefined) this.retryAfterSeconds = details.retryAfterSeconds;
  }
}

/** True when `value` is a ClientError (by name, so it works across copies of this module), optionally of `code`. */
export function isClientError(value: unknown, code?: string): value is ClientError {
  return (
    value instanceof Error &&
    value.name === "ClientError" &&
    "status" in value &&
    (code === undefined || (value as ClientError).code === code)
  );
}

/** A client-side error (status 0). */
export function clientError(
  code: ClientErrorCode,
  message: string,
  details: ClientErrorDetails = {},
): ClientError {
  return new ClientError(code, 0, message, details);
}
