/**
 * The API's errors: every answer that is not a success is `{ "error": { "code", "message" } }` with a
 * stable code from API_ERROR_CODES (plus `field` for bad input and `reason` for a protocol or rule code).
 * Handlers throw ApiError; the one error handler (app.ts) turns everything else into one of these codes
 * and never lets the details of a 5xx out.
 */

/** Every stable code the API answers with, its HTTP status and meaning. */
export const API_ERROR_CODES = {
  VALIDATION_FAILED: [400, "a parameter, query field or body field is missing or malformed (see field)"],
  BODY_INVALID: [400, "the body is not valid JSON, or is empty where one is needed"],
  TX_INVALID: [400, "the transaction fails decoding, chain, liveness or signature checks (see reason)"],
  TX_REJECTED: [422, "the transaction was committed but its rule failed (see reason)"],
  CONTENT_HASH_MISMATCH: [400, "sha256 of the content is not the anchor's contentHash"],
  ACCESS_LOG_INVALID: [
    400,
    "the x-medledger-access-log header is not this provider's access.log for this record",
  ],
  REQUEST_SIGNATURE_MISSING: [401, "the route needs a signed request or the admin token"],
  REQUEST_SIGNATURE_INVALID: [401, "the request signature, digest or signature input does not verify"],
  REQUEST_STALE: [401, "the signed request was created outside the allowed clock skew"],
  REQUEST_REPLAYED: [401, "the signed request's nonce was already used"],
  REQUEST_KEY_NOT_CURRENT: [401, "the request was signed with a key that is not the signer's current key"],
  ADMIN_TOKEN_INVALID: [401, "the bearer token is not this node's admin token"],
  FORBIDDEN: [403, "the signer may not read this resource"],
  NOT_HOLDER_PROVIDER: [403, "the anchor's signer is not an active provider of this node's member"],
  ACCESS_DENIED: [403, "the committed access.log was denied (see decision and reason)"],
  ACCESS_LOG_EXPIRED: [
    403,
    "the access.log was committed too long ago to be presented again: log the access anew",
  ],
  NOT_FOUND: [404, "no such route"],
  BLOCK_NOT_FOUND: [404, "no block at that height"],
  RECORD_NOT_HELD_HERE: [404, "this node's vault does not hold that record"],
  RECORD_EXISTS: [409, "another anchor or content is already stored for that record id"],
  RECORD_BUSY: [409, "another request is storing the same record right now"],
  GONE: [410, "the record was erased"],
  BODY_TOO_LARGE: [413, "the body exceeds the route's size limit"],
  UNSUPPORTED_MEDIA_TYPE: [415, "the body's content type is not application/json"],
  RATE_LIMITED: [429, "too many requests from this address: retry after Retry-After seconds"],
  INTERNAL: [500, "an internal error (details are logged, never sent)"],
  MEMPOOL_FULL: [503, "the mempool is full: retry after Retry-After seconds"],
  NODE_UNAVAILABLE: [503, "the node is stopped or halted"],
  STORAGE_FULL: [503, "the node's disk is full: it takes no writes until space returns"],
  NO_VAULT: [503, "this node runs without a vault"],
  OVERLOADED: [503, "the node is under pressure and sheds load: retry after Retry-After seconds"],
  STREAMS_FULL: [503, "too many event streams are open"],
  NONCE_CACHE_FULL: [503, "too many recent signed requests to remember: retry shortly"],
  COMMIT_TIMEOUT: [504, "the transaction was accepted but not committed in time (it may still commit)"],
} as const satisfies Record<string, readonly [number, string]>;

/** A stable API error code. */
export type ApiErrorCode = keyof typeof API_ERROR_CODES;

/** Extra fields of an error body. */
export interface ApiErrorDetails {
  /** The offending field (dotted or JSON-pointer path), for bad input. */
  readonly field?: string;
  /** A protocol error code or a rule's reason code. */
  readonly reason?: string;
  /** For ACCESS_DENIED: the committed decision and the access.log's id. */
  readonly decision?: string;
  readonly tx?: string;
  /** Seconds to wait before retrying (also sent as Retry-After). */
  readonly retryAfterSeconds?: number;
}

/** An error the API answers with; `status` follows from the code. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  readonly code: ApiErrorCode;
  readonly statusCode: number;
  readonly details: ApiErrorDetails;

  constructor(code: ApiErrorCode, message: string, details: ApiErrorDetails = {}) {
    super(message);
    this.code = code;
    this.statusCode = API_ERROR_CODES[code][0];
    this.details = details;
  }
}

/** True when `value` is an ApiError (by name, so it works across copies of this module). */
export function isApiError(value: unknown): value is ApiError {
  return value instanceof Error && value.name === "ApiError" && "statusCode" in value;
}

/** The JSON body of an error. */
export interface ErrorBody {
  error: { code: string; message: string } & Omit<ApiErrorDetails, "retryAfterSeconds">;
}

/** The body sent for `error`. */
export function errorBody(error: ApiError): ErrorBody {
  const { retryAfterSeconds: _ignored, ...details } = error.details;
  return { error: { code: error.code, message: error.message, ...details } };
}
