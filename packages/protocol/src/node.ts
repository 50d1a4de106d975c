/// <reference types="node" />
/**
 * The node:crypto (OpenSSL) implementation of the Signer and Verifier interfaces: the daemon's hot
 * path, about 18x faster than noble. Exported as `@medledger/protocol/node`; the only file of the
 * package that imports `node:*`. Every input first passes signer.ts's `strictPreCheck`, then OpenSSL's
 * cofactorless check, so this verifier accepts exactly what `nobleVerifier` accepts.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import { concatBytes, installSha256 } from "./bytes.js";
import { publicKeyToDid } from "./did.js";
import { invariant } from "./errors.js";
import { verifier_key_cache_entries_max } from "./limits.js";
import { checkSecretKey, type Signer, strictPreCheck, type Verifier } from "./signer.js";

/** DER prefix of an ed25519 SubjectPublicKeyInfo (RFC 8410); the 32 key bytes follow. */
const SPKI_PREFIX = Uint8Array.of(0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00);
/** DER prefix of an ed25519 PKCS#8 private key (RFC 8410); the 32 seed bytes follow. */
const PKCS8_PREFIX = Uint8Array.of(
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x04,
  0x22,
  0x04,
  0x20,
);

/** Options of a node:crypto verifier. */
export interface NodeVerifierOptions {
  /** Most public KeyObjects kept (least recently used are dropped); at most the protocol limit. */
  cacheEntriesMax?: number;
}

/** A node:crypto verifier with a bounded LRU cache of public KeyObjects, plus its cache size for metrics. */
export interface NodeVerifier extends Verifier {
  /** Number of KeyObjects currently cached. */
  cacheSize(): number;
}

/** Creates a node:crypto verifier with its own bounded KeyObject cache. */
export function createNodeVerifier(options: NodeVerifierOptions = {}): NodeVerifier {
  const entriesMax = options.cacheEntriesMax ?? verifier_key_cache_entries_max;
  invariant(
    Number.isSafeInteger(entriesMax) && entriesMax >= 1 && entriesMax <= verifier_key_cache_entries_max,
    "cacheEntriesMax is within 1..verifier_key_cache_entries_max",
  );
  const cache = new Map<string, KeyObject>();

  function keyObject(publicKey: Uint8Array): KeyObject {
    const cacheKey = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString(
      "latin1",
    );
    const cached = cache.get(cacheKey);
    if (cached !== undefined) {
      cache.delete(cacheKey); // move to the most recently used end
      cache.set(cacheKey, cached);
      return cached;
    }
    const created = createPublicKey({
      key: Buffer.from(concatBytes(SPKI_PREFIX, publicKey)),
      format: "der",
      type: "spki",
    });
    if (cache.size >= entriesMax) {
      const oldest = cache.keys().next();
      if (oldest.done !== true) cache.delete(oldest.value);
    }
    cache.set(cacheKey, created);
    return created;
  }

  return {
    name: "node",
    verify(publicKey, message, signature) {
      if (!(message instanceof Uint8Array) || !strictPreCheck(publicKey, signature)) return false;
      try {
        return verify(null, message, keyObject(publicKey), signature);
      } catch {
        return false; // OpenSSL refused the key or the signature
      }
    },
    cacheSize: () => cache.size,
  };
}

/** The process-wide node:crypto verifier (one shared KeyObject cache). */
export const nodeVerifier: NodeVerifier = createNodeVerifier();

/** A node:crypto signer for the 32-byte secret seed `secretKey`. */
export function nodeSigner(secretKey: Uint8Array): Signer {
  const seed = checkSecretKey(secretKey);
  const privateKey = createPrivateKey({
    key: Buffer.from(concatBytes(PKCS8_PREFIX, seed)),
    format: "der",
    type: "pkcs8",
  });
  const spki = createPublicKey(privateKey).export({ format: "der", type: "spki" });
  const publicKey = new Uint8Array(spki.subarray(SPKI_PREFIX.length));
  const did = publicKeyToDid(publicKey);
  return {
    did,
    publicKey,
    sign: (message) => new Uint8Array(sign(null, message, privateKey)),
  };
}

/** sha256 through node:crypto (OpenSSL): several times faster than the pure-JS one on small inputs. */
export function nodeSha256(bytes: Uint8Array): Uint8Array {
  return Uint8Array.from(createHash("sha256").update(bytes).digest());
}

/** Makes the protocol hash with node:crypto (checked against noble first): for daemons and tools on Node. */
export function useNodeCrypto(): void {
  installSha256(nodeSha256);
}
