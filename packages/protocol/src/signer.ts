/**
 * The one signing and verifying interface of medledger, the strict ed25519 policy both verifiers
 * share, and the @noble/ed25519 implementation (browser-safe). node.ts implements the same interface
 * over node:crypto for the daemon's hot path.
 *
 * Verification policy (identical for every implementation, so that nodes never disagree on a block):
 * 1. Exact lengths: public key 32 bytes, signature 64 bytes.
 * 2. A (the public key) and R (the first half of the signature) are canonical encodings: y < p, and
 *    no sign bit on x = 0 (RFC 8032 section 5.1.3 decoding, strictly).
 * 3. S (the second half) is a canonical scalar: S < L (RFC 8032 section 5.1.7).
 * 4. A and R are not of small order (libsodium's policy; "Taming the many EdDSAs", SSR 2020).
 * 5. The cofactorless equation, as OpenSSL checks it: encode([S]B - [k]A) == R byte for byte, with
 *    k = SHA-512(R || A || M) mod L.
 * Steps 1 to 4 are `strictPreCheck`, run by both implementations before their backend; step 5 is
 * what OpenSSL does and what `nobleVerifier` does with noble's point arithmetic (noble's own `verify`
 * uses the cofactored equation, which accepts mixed-order keys that OpenSSL rejects).
 */
import * as ed from "@noble/ed25519";
import { sha512 } from "@noble/hashes/sha2.js";
import { bytesEqual, concatBytes } from "./bytes.js";
import { isCanonicalPoint, isCanonicalScalar, isSmallOrderPoint, publicKeyToDid } from "./did.js";
import { ProtocolError } from "./errors.js";
import { public_key_bytes, secret_key_bytes, signature_bytes } from "./limits.js";
import type { Did } from "./types.js";

ed.hashes.sha512 = sha512;

/** Signs messages with one ed25519 key. */
export interface Signer {
  /** The did:key of the signing key. */
  readonly did: Did;
  /** The 32-byte public key. */
  readonly publicKey: Uint8Array;
  /** The 64-byte ed25519 signature of `message`. */
  sign(message: Uint8Array): Uint8Array;
}

/** Verifies ed25519 signatures under the strict policy above; never throws on bad input. */
export interface Verifier {
  /** A short name for logs and benchmarks ("noble", "node"). */
  readonly name: string;
  /** True when `signature` is a valid signature of `message` by `publicKey`. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

/**
 * The shared strict pre-check (steps 1 to 4 of the policy): exact lengths, canonical A and R,
 * S < L, neither A nor R of small order. Both verifiers apply it before their backend.
 */
export function strictPreCheck(publicKey: Uint8Array, signature: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || !(signature instanceof Uint8Array)) return false;
  if (publicKey.length !== public_key_bytes || signature.length !== signature_bytes) return false;
  const r = signature.subarray(0, 32);
  const s = signature.subarray(32, 64);
  return (
    isCanonicalScalar(s) &&
    isCanonicalPoint(publicKey) &&
    isCanonicalPoint(r) &&
    !isSmallOrderPoint(publicKey) &&
    !isSmallOrderPoint(r)
  );
}

const GROUP_ORDER = ed.Point.CURVE().n;

/** The verifier on @noble/ed25519 (pure JS, browser-safe, about 20x slower than node:crypto). */
export const nobleVerifier: Verifier = {
  name: "noble",
  verify(publicKey, message, signature) {
    if (!(message instanceof Uint8Array) || !strictPreCheck(publicKey, signature)) return false;
    try {
      const r = signature.subarray(0, 32);
      const point = ed.Point.fromBytes(publicKey, false);
      const s = littleEndianToBigInt(signature.subarray(32, 64));
      const k = littleEndianToBigInt(sha512(concatBytes(r, publicKey, message))) % GROUP_ORDER;
      const check = ed.Point.BASE.multiply(s, false).subtract(point.multiply(k, false));
      return bytesEqual(check.toBytes(), r);
    } catch {
      return false; // A is not on the curve
    }
  },
};

/** A signer on @noble/ed25519 for the 32-byte secret seed `secretKey`. */
export function nobleSigner(secretKey: Uint8Array): Signer {
  const seed = checkSecretKey(secretKey).slice();
  const publicKey = ed.getPublicKey(seed);
  const did = publicKeyToDid(publicKey);
  return {
    did,
    publicKey,
    sign: (message) => ed.sign(message, seed),
  };
}

/** The 32-byte public key of the 32-byte secret seed `secretKey` (RFC 8032 section 5.1.5). */
export function publicKeyFromSecretKey(secretKey: Uint8Array): Uint8Array {
  return ed.getPublicKey(checkSecretKey(secretKey));
}

/** Returns `secretKey` when it is 32 bytes; throws KEY_INVALID otherwise. */
export function checkSecretKey(secretKey: unknown): Uint8Array {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== secret_key_bytes) {
    throw new ProtocolError("KEY_INVALID", `a secret key is ${secret_key_bytes} bytes`);
  }
  return secretKey;
}

function littleEndianToBigInt(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let index = bytes.length - 1; index >= 0; index--)
    value = (value << 8n) | BigInt(bytes[index] as number);
  return value;
}
