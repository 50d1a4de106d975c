/**
 * Who may read what. Writes need nothing here: they are signed transactions. PHI reads are signed
 * requests (@medledger/protocol verifyRequest) whose key must be the signer's current key in the state
 * and whose nonce is used once; operator reads need the node's admin token (`Authorization: Bearer`),
 * which also grants every patient-scoped read.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  isProtocolError,
  limits as protocolLimits,
  type StateStore,
  type Verifier,
  verifyRequest,
} from "@medledger/protocol";
import type { FastifyRequest } from "fastify";
import { NodeError } from "../errors.js";
import { api_admin_token_bytes, api_nonce_cache_entries_max, api_request_nonce_ttl_ms } from "../limits.js";
import { ApiError } from "./errors.js";

/** File name of the admin token inside a node's data directory. */
export const ADMIN_TOKEN_FILE = "admin.token";
const ADMIN_TOKEN_PATTERN = /^[0-9a-f]{64}$/;

if (api_request_nonce_ttl_ms < 2 * protocolLimits.request_skew_max_s * 1000) {
  throw new Error("medledger API limits are inconsistent: a nonce must outlive the whole skew window");
}

/** The admin token of the node in `dataDir`: read from admin.token, or generated there (mode 0600). */
export function loadOrCreateAdminToken(dataDir: string): string {
  const path = join(dataDir, ADMIN_TOKEN_FILE);
  if (!existsSync(path)) {
    const token = randomBytes(api_admin_token_bytes).toString("hex");
    writeFileSync(path, `${token}\n`, { mode: 0o600, flag: "wx" });
    return token;
  }
  const token = readFileSync(path, "utf8").trim();
  if (!ADMIN_TOKEN_PATTERN.test(token)) {
    throw new NodeError("OPTIONS_INVALID", `${path} does not hold a ${api_admin_token_bytes}-byte hex token`);
  }
  return token;
}

/** Who a request was authorized as. */
export type Principal = { kind: "admin" } | { kind: "signed"; signer: string; key: string };

/** Remembers the nonces of signed requests for api_request_nonce_ttl_ms, at most api_nonce_cache_entries_max. */
export class NonceCache {
  private readonly seen = new Map<string, number>();

  constructor(private readonly entriesMax = api_nonce_cache_entries_max) {}

  /** Records (signer, nonce) at `nowMs`; false when it was already used. Throws NONCE_CACHE_FULL. */
  use(signer: string, nonce: string, nowMs: number): boolean {
    this.prune(nowMs);
    const key = `${signer} ${nonce}`;
    if (this.seen.has(key)) return false;
    if (this.seen.size >= this.entriesMax) {
      throw new ApiError("NONCE_CACHE_FULL", "too many recent signed requests: retry shortly", {
        retryAfterSeconds: 1,
      });
    }
    this.seen.set(key, nowMs + api_request_nonce_ttl_ms);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }

  /** Entries are inserted in time order, so the expired ones are at the front. */
  private prune(nowMs: number): void {
    for (const [key, expires] of this.seen) {
      if (expires > nowMs) return;
      this.seen.delete(key);
    }
  }
}

/** What the authorizer needs. */
export interface AuthorizerOptions {
  readonly adminToken: string;
  readonly state: StateStore;
  readonly verifier: Verifier;
  readonly now: () => number;
  readonly nonces?: NonceCache;
}

/** Authorizes requests: admin token or signed request. */
export class Authorizer {
  private readonly adminDigest: Buffer;
  private readonly nonces: NonceCache;

  constructor(private readonly options: AuthorizerOptions) {
    this.adminDigest = digest(options.adminToken);
    this.nonces = options.nonces ?? new NonceCache();
  }

  /** The principal of `request`; throws a 401 ApiError when it is neither admin nor a valid signed request. */
  authenticate(request: FastifyRequest): Principal {
    const authorization = request.headers.authorization;
    if (authorization !== undefined) return this.admin(authorization);
    if (request.headers.signature === undefined && request.headers["signature-input"] === undefined) {
      throw new ApiError(
        "REQUEST_SIGNATURE_MISSING",
        "sign the request (signature, signature-input, content-digest) or send the admin token",
      );
    }
    return this.signed(request);
  }

  /** The principal, which must be the admin or the signed request of `patient`. */
  authorizePatient(request: FastifyRequest, patient: string): Principal {
    const principal = this.authenticate(request);
    if (principal.kind === "signed" && principal.signer !== patient) {
      throw new ApiError("FORBIDDEN", "only the patient (or the node's admin) may read this");
    }
    return principal;
  }

  private admin(authorization: string): Principal {
    const match = /^Bearer (\S+)$/.exec(authorization);
    if (match === null || !timingSafeEqual(digest(match[1] as string), this.adminDigest)) {
      throw new ApiError("ADMIN_TOKEN_INVALID", "the bearer token is not this node's admin token");
    }
    return { kind: "admin" };
  }

  private signed(request: FastifyRequest): Principal {
    const nowMs = this.options.now();
    const headers: Record<string, string | undefined> = {};
    for (const name of ["content-digest", "signature-input", "signature"]) {
      const value = request.headers[name];
      headers[name] = typeof value === "string" ? value : undefined;
    }
    let verified: { signer: string; key: string; created: number; nonce: string };
    try {
      verified = verifyRequest(
        { method: request.method, path: request.url, body: requestBody(request) },
        headers,
        { verifier: this.options.verifier, nowSeconds: Math.floor(nowMs / 1000) },
      );
    } catch (error) {
      if (isProtocolError(error) && (error.code as string) === "REQUEST_STALE") {
        throw new ApiError("REQUEST_STALE", error.message);
      }
      if (isProtocolError(error)) {
        throw new ApiError("REQUEST_SIGNATURE_INVALID", error.message, { reason: error.code });
      }
      throw error;
    }
    const current = this.options.state.getIdentity(verified.signer)?.key ?? verified.signer;
    if (verified.key !== current) {
      throw new ApiError(
        "REQUEST_KEY_NOT_CURRENT",
        "the request is signed with a key the signer no longer uses",
      );
    }
    if (!this.nonces.use(verified.signer, verified.nonce, nowMs)) {
      throw new ApiError("REQUEST_REPLAYED", "the request's nonce was already used");
    }
    return { kind: "signed", signer: verified.signer, key: verified.key };
  }
}

/** The bytes a signed request covers: empty for requests without a body (every signed route is a GET). */
function requestBody(request: FastifyRequest): Uint8Array {
  const raw = (request as { rawBody?: unknown }).rawBody;
  return raw instanceof Uint8Array ? raw : new Uint8Array(0);
}

function digest(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}
