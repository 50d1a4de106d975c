/** @medledger/client: the SDK for integrators (browser-safe: fetch, Web Crypto, noble signers). */
export {
  type CallOptions,
  type ClientOptions,
  type EventStream,
  MedledgerClient,
  type PageOptions,
  type ReadAuth,
  type TxInput,
} from "./client.js";
export {
  CLIENT_ERROR_CODES,
  ClientError,
  type ClientErrorCode,
  type ClientErrorDetails,
  isClientError,
} from "./errors.js";
export type { FetchLike } from "./http.js";
export {
  type GeneratedKey,
  generateIdentity,
  generateKey,
  hasRotated,
  type Identity,
  identityFromKeyFile,
  identityOf,
  rotatedIdentity,
  type SignerFactory,
  signedRequestHeaders,
} from "./identity.js";
export * as clientLimits from "./limits.js";
export { parseEventStream, type SseBounds, type SseMessage, SseParser } from "./sse.js";
export {
  type BuildOptions,
  type BuiltTx,
  buildTx,
  builtOf,
  type ConsentGrantInput,
  type RecordAnchorInput,
  randomNonce,
  type TxBuilder,
  type TxOptions,
  txBuilder,
} from "./txs.js";
export type * from "./types.js";
export { type VerifiedInclusion, verifyBlockHeader, verifyInclusion } from "./verify.js";
