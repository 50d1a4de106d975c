/**
 * Signed HTTP requests, after HTTP Message Signatures (RFC 9421) and Digest Fields (RFC 9530): the way
 * a provider proves who asks for PHI. Pure and browser-safe: the client library signs with it.
 *
 * A signed request carries three headers:
 *   Content-Digest: sha-256=:<base64 of sha256(body)>:
 *   Signature-Input: sig1=("@method" "@path" "@query" "content-digest");created=<unix s>;
 *     nonce="<16 random bytes, base64url>";keyid="<did:key of the signing key>";alg="ed25519";
 *     tag="medledger";signer="<did:key of the identity>"
 *   Signature: sig1=:<base64 of the 64-byte ed25519 signature>:
 * The signature covers RFC 9421's signature base (section 2.5): one line per covered component,
 * `"@method": GET`, `"@path": /records/r1`, `"@query": ?purpose=TREAT` (`?` alone when there is no
 * query), `"content-digest": sha-256=:...:`, then `"@signature-params": ` and the Signature-Input
 * member's value, lines joined by LF with none after the last.
 *
 * `keyid` names the key and `signer` the identity. They differ once an identity has rotated its key
 * (`key.rotate`, `key.recover`): the identity (the DID consents and audit entries name) stays, the key
 * moves. The signature proves possession of `keyid`; the server then checks on the ledger that `keyid`
 * is `signer`'s current key. `tag="medledger"` keeps a signature made for another RFC 9421 application
 * from being accepted here (RFC 9421 section 2.3).
 *
 * Parsing is strict and bounded: each header at most request_header_bytes_max bytes; exactly one
 * signature, labelled sig1; exactly the four components above, in that order; exactly the six
 * parameters above, each once (in any order: the base uses them as received); canonical integers,
 * base64 and DIDs; no escapes in strings. Everything wrong is REQUEST_SIGNATURE_INVALID, except a
 * `created` too far from the verifier's clock, REQUEST_STALE. Replays (a nonce seen before within the
 * skew window) are the server's to refuse.
 */
import { sha256, utf8 } from "./bytes.js";
import { didToPublicKey, parseDid } from "./did.js";
import { ProtocolError, type ProtocolErrorCode } from "./errors.js";
import { randomBytes } from "./keys.js";
import {
  request_header_bytes_max,
  request_method_bytes_max,
  request_nonce_bytes,
  request_skew_max_s,
  request_target_bytes_max,
  signature_bytes,
} from "./limits.js";
import type { Signer, Verifier } from "./signer.js";

/** What a signature covers of an HTTP request. */
export interface RequestToSign {
  /** The method as sent, e.g. "GET" (case-sensitive; an HTTP token). */
  method: string;
  /** The path and query, as sent, e.g. "/records/r1?purpose=TREAT". */
  path: string;
  /** The body's bytes (empty for none). */
  body: Uint8Array;
}

/** The three headers of a signed request (lower-case names, as Node and fetch give them). */
export interface SignedRequestHeaders {
  "content-digest": string;
  "signature-input": string;
  signature: string;
}

/**
 * The headers verifyRequest reads: `Record<string, string | undefined>` as specified, widened so that
 * Node's and Fastify's `IncomingHttpHeaders` (whose `set-cookie` is a string[]) and a
 * SignedRequestHeaders object pass without a cast. A list value for a signature header is refused.
 */
export type RequestHeaders =
  | Readonly<Record<string, string | readonly string[] | undefined>>
  | SignedRequestHeaders;

/** What a verified signature tells: who signed, with which key, when, and its nonce. */
export interface VerifiedRequest {
  /** The identity (did:key) the request is made as. */
  signer: string;
  /** The did:key of the key that signed (the identity's current key, which the server checks). */
  key: string;
  /** Unix seconds at signing. */
  created: number;
  /** The nonce (22 characters of base64url), for the server's replay check. */
  nonce: string;
}

/** The signature label medledger uses; a request carries exactly one signature. */
export const REQUEST_SIGNATURE_LABEL = "sig1";
/** The components every signed request covers, in order. */
export const REQUEST_COVERED_COMPONENTS = ["@method", "@path", "@query", "content-digest"] as const;
/** The `alg` parameter of every signed request. */
export const REQUEST_SIGNATURE_ALG = "ed25519";
/** The `tag` parameter of every signed request (RFC 9421 section 2.3: the application). */
export const REQUEST_SIGNATURE_TAG = "medledger";

const PARAMETER_NAMES = ["created", "nonce", "keyid", "alg", "tag", "signer"] as const;
type ParameterName = (typeof PARAMETER_NAMES)[number];
const COMPONENTS_TEXT = `(${REQUEST_COVERED_COMPONENTS.map((name) => `"${name}"`).join(" ")})`;

/** An HTTP token (RFC 9110 section 5.6.2). */
const METHOD_PATTERN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** An origin-form target as sent: "/" then visible ASCII except `"`, `#` and `\`. */
const TARGET_PATTERN = /^\/[\x21\x24-\x5b\x5d-\x7e]*$/;
/** A canonical non-negative integer of at most 15 digits (a Structured Field Integer, unsigned). */
const CREATED_PATTERN = /^(?:0|[1-9][0-9]{0,14})$/;
/** A Structured Field parameter `;name=value` with a canonical integer or an escape-free string. */
const PARAMETER_PATTERN = /^;([a-z][a-z0-9_.*-]*)=(?:(0|[1-9][0-9]{0,14})|"([\x20\x21\x23-\x5b\x5d-\x7e]*)")/;
const BASE64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const DIGEST_PREFIX = "sha-256=:";

/** Signs as identity `signer` (its DID) with key `key` (a Signer whose did is the current key); created = unix seconds; nonce = 16 random bytes base64url. */
export function signRequest(
  request: RequestToSign,
  options: { signer: string; key: Signer; created: number; nonce: string },
): SignedRequestHeaders {
  checkRequest(request, "FIELD_INVALID");
  const signer = parseDid(options.signer, "signer");
  const keyid = parseDid(options.key.did, "key.did");
  if (!Number.isSafeInteger(options.created) || !CREATED_PATTERN.test(String(options.created))) {
    throw new ProtocolError("FIELD_INVALID", "created must be unix seconds (a non-negative integer)", {
      field: "created",
    });
  }
  if (!isNonce(options.nonce)) {
    throw new ProtocolError("FIELD_INVALID", `nonce must be ${request_nonce_bytes} bytes in base64url`, {
      field: "nonce",
    });
  }
  const contentDigest = contentDigestOf(request.body);
  const params =
    `${COMPONENTS_TEXT};created=${options.created};nonce="${options.nonce}";keyid="${keyid}"` +
    `;alg="${REQUEST_SIGNATURE_ALG}";tag="${REQUEST_SIGNATURE_TAG}";signer="${signer}"`;
  const signature = options.key.sign(utf8(requestSignatureBase(request, contentDigest, params)));
  return {
    "content-digest": contentDigest,
    "signature-input": `${REQUEST_SIGNATURE_LABEL}=${params}`,
    signature: `${REQUEST_SIGNATURE_LABEL}=:${base64Encode(signature, BASE64_ALPHABET, true)}:`,
  };
}

/** Parses the headers, recomputes the digest and the signature base, verifies; throws ProtocolError REQUEST_SIGNATURE_INVALID / REQUEST_STALE (|now - created| > request_skew_max_s) with a clear message. Replay (nonce reuse) is the server's job. */
export function verifyRequest(
  request: RequestToSign,
  headers: RequestHeaders,
  options: { verifier: Verifier; nowSeconds: number },
): VerifiedRequest {
  checkRequest(request, "REQUEST_SIGNATURE_INVALID");
  const contentDigest = header(headers, "content-digest");
  const signatureInput = header(headers, "signature-input");
  const signatureHeader = header(headers, "signature");
  const params = parseSignatureInput(signatureInput);
  const signature = parseSignature(signatureHeader);
  const skew = Math.abs(options.nowSeconds - params.created);
  if (!(skew <= request_skew_max_s)) {
    throw new ProtocolError(
      "REQUEST_STALE",
      `the request was signed at ${params.created}, ${Number.isFinite(skew) ? Math.round(skew) : "?"} s from the server's clock ` +
        `${Math.floor(options.nowSeconds)} (at most ${request_skew_max_s} s allowed): check the client's clock and sign again`,
    );
  }
  if (contentDigest !== contentDigestOf(request.body)) {
    invalid(`content-digest does not match the body (expected ${DIGEST_PREFIX}<base64 of its sha256>:)`);
  }
  const base = requestSignatureBase(request, contentDigest, params.text);
  if (!options.verifier.verify(didToPublicKey(params.keyid, "keyid"), utf8(base), signature)) {
    invalid("the signature does not verify: the request was altered, or it was not signed by keyid");
  }
  return { signer: params.signer, key: params.keyid, created: params.created, nonce: params.nonce };
}

/** A fresh nonce for signRequest: 16 random bytes in base64url. */
export function requestNonce(): string {
  return base64Encode(randomBytes(request_nonce_bytes), BASE64URL_ALPHABET, false);
}

/** The Content-Digest value of `body` (RFC 9530): `sha-256=:<base64 of sha256(body)>:`. */
export function contentDigestOf(body: Uint8Array): string {
  return `${DIGEST_PREFIX}${base64Encode(sha256(body), BASE64_ALPHABET, true)}:`;
}

/**
 * RFC 9421's signature base (section 2.5) of `request` for the four covered components, given the
 * Content-Digest value and the Signature-Input member's value (`(...)` and its parameters).
 */
export function requestSignatureBase(request: RequestToSign, contentDigest: string, params: string): string {
  const split = request.path.indexOf("?");
  const path = split === -1 ? request.path : request.path.slice(0, split);
  const query = split === -1 ? "?" : request.path.slice(split);
  return [
    `"@method": ${request.method}`,
    `"@path": ${path}`,
    `"@query": ${query}`,
    `"content-digest": ${contentDigest}`,
    `"@signature-params": ${params}`,
  ].join("\n");
}

interface SignatureParams {
  /** The member's value exactly as received (the inner list and its parameters). */
  text: string;
  created: number;
  nonce: string;
  keyid: string;
  signer: string;
}

/** Parses `sig1=("@method" "@path" "@query" "content-digest");created=...;...` strictly. */
function parseSignatureInput(value: string): SignatureParams {
  const prefix = `${REQUEST_SIGNATURE_LABEL}=`;
  if (!value.startsWith(prefix))
    invalid(`signature-input must have exactly one signature, labelled ${REQUEST_SIGNATURE_LABEL}`);
  const text = value.slice(prefix.length);
  if (!text.startsWith(COMPONENTS_TEXT)) {
    invalid(`signature-input must cover exactly ${COMPONENTS_TEXT}, in this order`);
  }
  const found = new Map<ParameterName, string>();
  let rest = text.slice(COMPONENTS_TEXT.length);
  while (rest.length > 0) {
    const match = PARAMETER_PATTERN.exec(rest);
    if (match === null) invalid("signature-input has a malformed parameter or more than one signature");
    const name = match[1] as string;
    if (!(PARAMETER_NAMES as readonly string[]).includes(name))
      invalid(`signature-input has an unknown parameter ${name}`);
    if (found.has(name as ParameterName)) invalid(`signature-input repeats the parameter ${name}`);
    const isInteger = match[2] !== undefined;
    if (isInteger !== (name === "created")) {
      invalid(`signature-input's ${name} must be ${name === "created" ? "an integer" : "a string"}`);
    }
    found.set(name as ParameterName, (match[2] ?? match[3]) as string);
    rest = rest.slice(match[0].length);
  }
  const missing = PARAMETER_NAMES.filter((name) => !found.has(name));
  if (missing.length > 0) invalid(`signature-input lacks the parameters ${missing.join(", ")}`);
  const get = (name: ParameterName) => found.get(name) as string;
  if (get("alg") !== REQUEST_SIGNATURE_ALG)
    invalid(`signature-input's alg must be "${REQUEST_SIGNATURE_ALG}"`);
  if (get("tag") !== REQUEST_SIGNATURE_TAG)
    invalid(`signature-input's tag must be "${REQUEST_SIGNATURE_TAG}"`);
  if (!isNonce(get("nonce")))
    invalid(`signature-input's nonce must be ${request_nonce_bytes} bytes in base64url`);
  return {
    text,
    created: Number(get("created")),
    nonce: get("nonce"),
    keyid: didParameter(get("keyid"), "keyid"),
    signer: didParameter(get("signer"), "signer"),
  };
}

/** Parses `sig1=:<base64 of 64 bytes>:` strictly. */
function parseSignature(value: string): Uint8Array {
  const prefix = `${REQUEST_SIGNATURE_LABEL}=:`;
  if (!value.startsWith(prefix) || !value.endsWith(":")) {
    invalid(`signature must be exactly one signature, ${REQUEST_SIGNATURE_LABEL}=:<base64>:`);
  }
  const signature = base64Decode(value.slice(prefix.length, -1), BASE64_ALPHABET, true);
  if (signature === undefined || signature.length !== signature_bytes) {
    invalid(`signature must hold ${signature_bytes} bytes in canonical base64`);
  }
  return signature;
}

function didParameter(value: string, name: string): string {
  try {
    return parseDid(value, name);
  } catch {
    return invalid(`signature-input's ${name} is not an ed25519 did:key`);
  }
}

/** The value of header `name`, looked up case-insensitively; it must be present once and bounded. */
function header(headers: RequestHeaders, name: string): string {
  if (typeof headers !== "object" || headers === null) invalid("no request headers");
  let value: unknown;
  let count = 0;
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() !== name) continue;
    const candidate: unknown = (headers as Record<string, unknown>)[key];
    if (candidate === undefined) continue;
    value = candidate;
    count++;
  }
  if (count === 0) invalid(`the ${name} header is missing: PHI reads must be signed requests`);
  if (count > 1) invalid(`the ${name} header is given more than once`);
  if (typeof value !== "string") invalid(`the ${name} header must be a single string`);
  if (value.length > request_header_bytes_max)
    invalid(`the ${name} header is longer than ${request_header_bytes_max} bytes`);
  return value;
}

function checkRequest(request: RequestToSign, code: ProtocolErrorCode): void {
  const fail = (message: string, field: string): never => {
    throw new ProtocolError(code, message, { field });
  };
  if (typeof request !== "object" || request === null) fail("the request must be an object", "request");
  const { method, path, body } = request;
  if (
    typeof method !== "string" ||
    method.length > request_method_bytes_max ||
    !METHOD_PATTERN.test(method)
  ) {
    fail(`the method must be an HTTP token of at most ${request_method_bytes_max} bytes`, "method");
  }
  if (typeof path !== "string" || path.length > request_target_bytes_max || !TARGET_PATTERN.test(path)) {
    fail(
      `the path must start with "/" and be visible ASCII (no '"', '#', '\\'), at most ${request_target_bytes_max} bytes`,
      "path",
    );
  }
  if (!(body instanceof Uint8Array)) fail("the body must be a Uint8Array (empty for none)", "body");
}

function isNonce(value: unknown): value is string {
  if (typeof value !== "string") return false;
  const decoded = base64Decode(value, BASE64URL_ALPHABET, false);
  return decoded !== undefined && decoded.length === request_nonce_bytes;
}

function invalid(message: string): never {
  throw new ProtocolError("REQUEST_SIGNATURE_INVALID", message);
}

/** Base64 of `bytes` in `alphabet` (RFC 4648 sections 4 and 5), padded with "=" when `padded`. */
function base64Encode(bytes: Uint8Array, alphabet: string, padded: boolean): string {
  let out = "";
  for (let index = 0; index < bytes.length; index += 3) {
    const a = bytes[index] as number;
    const b = bytes[index + 1];
    const c = bytes[index + 2];
    const triple = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    out += alphabet[(triple >> 18) & 63] as string;
    out += alphabet[(triple >> 12) & 63] as string;
    out += b === undefined ? (padded ? "=" : "") : (alphabet[(triple >> 6) & 63] as string);
    out += c === undefined ? (padded ? "=" : "") : (alphabet[triple & 63] as string);
  }
  return out;
}

/**
 * Bytes of base64 `text` in `alphabet`, or undefined unless `text` is the one canonical spelling
 * (padding exactly as `padded` says, unused trailing bits zero): decoding then encoding gives it back.
 */
function base64Decode(text: string, alphabet: string, padded: boolean): Uint8Array | undefined {
  if (text.length > request_header_bytes_max) return undefined;
  const body = padded ? text.replace(/={1,2}$/, "") : text;
  if (padded && text.length % 4 !== 0) return undefined;
  if (body.length % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let buffer = 0;
  let bits = 0;
  let position = 0;
  for (const character of body) {
    const value = alphabet.indexOf(character);
    if (value === -1) return undefined;
    buffer = ((buffer << 6) | value) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[position++] = (buffer >> bits) & 0xff;
    }
  }
  return base64Encode(out, alphabet, padded) === text ? out : undefined;
}

/** The headers of `request` signed as `signer` with `key`, now, with a fresh nonce (a convenience). */
export function signRequestNow(
  request: RequestToSign,
  options: { signer: string; key: Signer; nowSeconds?: number },
): SignedRequestHeaders {
  const created = Math.floor(options.nowSeconds ?? Date.now() / 1000);
  return signRequest(request, { signer: options.signer, key: options.key, created, nonce: requestNonce() });
}
