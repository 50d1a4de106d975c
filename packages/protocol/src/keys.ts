/**
 * Key generation (secure randomness from `globalThis.crypto`, so it runs in browsers too), key pairs
 * and key files. A key file is a small JSON object:
 *   {"version":1,"type":"ed25519","did":"did:key:z6Mk...","publicKey":"<64 hex>","secretKey":"<64 hex>"}
 * Parsing is strict: size-limited, no unknown fields, and the public key and DID must match the
 * secret key. File I/O (and file permissions) belong to the CLI, not here.
 */
import { fromHex, fromUtf8, toHex, utf8 } from "./bytes.js";
import { publicKeyToDid } from "./did.js";
import { ProtocolError } from "./errors.js";
import { key_file_bytes_max, public_key_bytes, secret_key_bytes } from "./limits.js";
import { checkSecretKey, publicKeyFromSecretKey } from "./signer.js";
import type { Did } from "./types.js";

/** Version of the key file format this module writes and reads. */
export const KEY_FILE_VERSION = 1;
const KEY_FILE_FIELDS = ["version", "type", "did", "publicKey", "secretKey"] as const;

/** An ed25519 key pair with its did:key. */
export interface KeyPair {
  /** The 32-byte secret seed (RFC 8032). */
  secretKey: Uint8Array;
  /** The 32-byte public key. */
  publicKey: Uint8Array;
  /** The did:key naming `publicKey`. */
  did: Did;
}

/** The JSON object of a key file. */
export interface KeyFileJson {
  version: 1;
  type: "ed25519";
  did: Did;
  publicKey: string;
  secretKey: string;
}

interface RandomSource {
  getRandomValues<T extends Uint8Array>(array: T): T;
}

/** `length` bytes from the platform's cryptographically secure generator (Web Crypto). */
export function randomBytes(length: number): Uint8Array {
  const source = (globalThis as { crypto?: RandomSource }).crypto;
  if (source === undefined || typeof source.getRandomValues !== "function") {
    throw new Error("no secure random generator: globalThis.crypto.getRandomValues is missing");
  }
  return source.getRandomValues(new Uint8Array(length));
}

/** A fresh random 32-byte ed25519 secret seed. */
export function generateSecretKey(): Uint8Array {
  return randomBytes(secret_key_bytes);
}

/** The key pair of a 32-byte secret seed; throws KEY_INVALID on a wrong length. */
export function keyPairFromSecretKey(secretKey: Uint8Array): KeyPair {
  const seed = checkSecretKey(secretKey).slice();
  const publicKey = publicKeyFromSecretKey(seed);
  return { secretKey: seed, publicKey, did: publicKeyToDid(publicKey) };
}

/** A fresh random key pair. */
export function generateKeyPair(): KeyPair {
  return keyPairFromSecretKey(generateSecretKey());
}

/** The key file object of `keyPair`. */
export function keyFileToJson(keyPair: KeyPair): KeyFileJson {
  const checked = keyPairFromSecretKey(keyPair.secretKey);
  if (checked.did !== keyPair.did)
    throw new ProtocolError("KEY_INVALID", "the key pair's did does not match");
  return {
    version: KEY_FILE_VERSION,
    type: "ed25519",
    did: checked.did,
    publicKey: toHex(checked.publicKey),
    secretKey: toHex(checked.secretKey),
  };
}

/** The text of a key file for `keyPair` (JSON, one trailing newline). */
export function encodeKeyFile(keyPair: KeyPair): string {
  return `${JSON.stringify(keyFileToJson(keyPair), null, 2)}\n`;
}

/** The key pair in a key file's text or bytes; throws KEY_FILE_INVALID on anything malformed. */
export function parseKeyFile(input: string | Uint8Array): KeyPair {
  const bytes = typeof input === "string" ? utf8(input) : input;
  if (bytes.length > key_file_bytes_max) {
    throw new ProtocolError("KEY_FILE_INVALID", `a key file is at most ${key_file_bytes_max} bytes`);
  }
  let json: unknown;
  try {
    json = JSON.parse(fromUtf8(bytes));
  } catch (cause) {
    throw new ProtocolError("KEY_FILE_INVALID", "a key file is JSON", { cause });
  }
  return keyFileFromJson(json);
}

/** The key pair in a key file's parsed JSON object; throws KEY_FILE_INVALID on anything malformed. */
export function keyFileFromJson(json: unknown): KeyPair {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw keyFileError("a key file is a JSON object");
  }
  const record = json as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!(KEY_FILE_FIELDS as readonly string[]).includes(key))
      throw keyFileError(`unknown field ${key}`, key);
  }
  if (record.version !== KEY_FILE_VERSION) throw keyFileError("unsupported key file version", "version");
  if (record.type !== "ed25519") throw keyFileError("unsupported key type", "type");
  const secretKey = keyFileHex(record.secretKey, "secretKey", secret_key_bytes);
  const publicKey = keyFileHex(record.publicKey, "publicKey", public_key_bytes);
  let keyPair: KeyPair;
  try {
    keyPair = keyPairFromSecretKey(secretKey);
  } catch (cause) {
    throw new ProtocolError("KEY_FILE_INVALID", "the secret key is unusable", { field: "secretKey", cause });
  }
  if (toHex(keyPair.publicKey) !== toHex(publicKey)) {
    throw keyFileError("the public key does not match the secret key", "publicKey");
  }
  if (record.did !== keyPair.did) throw keyFileError("the did does not match the secret key", "did");
  return keyPair;
}

function keyFileHex(value: unknown, field: string, length: number): Uint8Array {
  try {
    return fromHex(value, { field, length });
  } catch (cause) {
    throw new ProtocolError("KEY_FILE_INVALID", `${field} is ${length} bytes of lowercase hex`, {
      field,
      cause,
    });
  }
}

function keyFileError(message: string, field?: string): ProtocolError {
  return new ProtocolError("KEY_FILE_INVALID", message, field === undefined ? {} : { field });
}
