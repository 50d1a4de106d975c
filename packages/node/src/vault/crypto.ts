/**
 * The vault's envelope encryption (node:crypto, OpenSSL).
 *
 * Each record gets a fresh random 256-bit data key. The plaintext is sealed with AES-256-GCM under that
 * key, a 96-bit random IV and a 128-bit tag; the additional data binds the record id, its metadata and
 * its content hash, so a row whose metadata was edited, or whose ciphertext was moved under another
 * record id, fails authentication. Each data key is used for exactly one encryption, so the random IV
 * can never repeat under a key.
 *
 * The data key is wrapped with the node's master key by AES Key Wrap (RFC 3394, NIST SP 800-38F KW;
 * OpenSSL's `id-aes256-wrap`), not by AES-256-GCM, because:
 * - KW needs no nonce. Under one long-lived master key, GCM with random 96-bit IVs is bounded to 2^32
 *   wraps (NIST SP 800-38D section 8.3), and a single repeated IV leaks the XOR of two data keys and the
 *   GHASH key (forgeries). KW is deterministic, which leaks nothing here: its inputs are random keys.
 * - KW is the standard construction for exactly this job (also Web Crypto's "AES-KW", PKCS#11's
 *   CKM_AES_KEY_WRAP, cloud KMS imports), so a recovery tool or an HSM can unwrap without our code.
 * - Its 64-bit integrity check rejects a damaged wrapped key or a wrong master key; KW binds no
 *   context, but the record's GCM additional data does: a wrapped key moved to another row only yields
 *   a data key that fails that row's tag. Either failure is VAULT_CORRUPT.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import { concatBytes, utf8 } from "@medledger/protocol";
import { invariant, NodeError } from "../errors.js";
import type { VaultRecordMeta } from "./types.js";

/** Length of the master key and of every data key (AES-256). */
export const VAULT_KEY_BYTES = 32;
/** Length of a GCM IV (96 bits, the size GCM is defined for without GHASH of the IV). */
export const VAULT_IV_BYTES = 12;
/** Length of a GCM tag (128 bits, the full tag). */
export const VAULT_TAG_BYTES = 16;
/** Length of a key wrapped by RFC 3394 KW: the key plus its 8-byte integrity block. */
export const VAULT_WRAPPED_KEY_BYTES = VAULT_KEY_BYTES + 8;
/** Version of the sealing format: part of the additional data, stored with each row. */
export const VAULT_FORMAT_VERSION = 1;

/** RFC 3394 section 2.2.3.1's default initial value; OpenSSL checks it on unwrap. */
const KW_DEFAULT_IV = Buffer.from("a6a6a6a6a6a6a6a6", "hex");
const AAD_DOMAIN = utf8("medledger/vault/record");
const KEY_CHECK_DOMAIN = "medledger/vault/key-check/v1";

/** What the vault stores for one record besides its metadata. */
export interface SealedVaultRecord {
  /** The data key wrapped by the master key (40 bytes). */
  wrappedKey: Uint8Array;
  /** The GCM IV (12 bytes). */
  iv: Uint8Array;
  /** The GCM ciphertext followed by its 16-byte tag. */
  ciphertext: Uint8Array;
  /** The sealing format version. */
  version: number;
}

/** Seals `plaintext` under a fresh data key, wrapped by `masterKey`. */
export function sealVaultRecord(
  masterKey: Uint8Array,
  meta: VaultRecordMeta,
  plaintext: Uint8Array,
): SealedVaultRecord {
  const dataKey = randomBytes(VAULT_KEY_BYTES);
  try {
    const iv = randomBytes(VAULT_IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", dataKey, iv, { authTagLength: VAULT_TAG_BYTES });
    cipher.setAAD(vaultAdditionalData(meta, VAULT_FORMAT_VERSION));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return {
      wrappedKey: wrapDataKey(masterKey, dataKey),
      iv: new Uint8Array(iv),
      ciphertext: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
      version: VAULT_FORMAT_VERSION,
    };
  } finally {
    dataKey.fill(0);
  }
}

/** The plaintext of a sealed record; throws VAULT_CORRUPT when any part fails authentication. */
export function openVaultRecord(
  masterKey: Uint8Array,
  meta: VaultRecordMeta,
  sealed: SealedVaultRecord,
): Uint8Array {
  if (
    sealed.version !== VAULT_FORMAT_VERSION ||
    sealed.iv.length !== VAULT_IV_BYTES ||
    sealed.ciphertext.length < VAULT_TAG_BYTES
  ) {
    throw corrupt(meta.record, "its sealed row has the wrong shape");
  }
  const dataKey = unwrapDataKey(masterKey, sealed.wrappedKey, meta.record);
  try {
    const split = sealed.ciphertext.length - VAULT_TAG_BYTES;
    const decipher = createDecipheriv("aes-256-gcm", dataKey, sealed.iv, { authTagLength: VAULT_TAG_BYTES });
    decipher.setAAD(vaultAdditionalData(meta, sealed.version));
    decipher.setAuthTag(sealed.ciphertext.subarray(split));
    const plaintext = Buffer.concat([
      decipher.update(sealed.ciphertext.subarray(0, split)),
      decipher.final(),
    ]);
    return new Uint8Array(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength);
  } catch (cause) {
    throw corrupt(meta.record, "its ciphertext failed authentication", cause);
  } finally {
    dataKey.fill(0);
  }
}

/** A 16-byte check value of the master key (HMAC-SHA256 under a fixed label): reveals nothing of it. */
export function vaultMasterKeyCheck(masterKey: Uint8Array): Uint8Array {
  const mac = createHmac("sha256", masterKey).update(KEY_CHECK_DOMAIN).digest();
  return new Uint8Array(mac.subarray(0, 16));
}

/** `dataKey` wrapped by `masterKey` (RFC 3394 AES Key Wrap, 40 bytes). */
export function wrapDataKey(masterKey: Uint8Array, dataKey: Uint8Array): Uint8Array {
  const cipher = createCipheriv("id-aes256-wrap", masterKey, KW_DEFAULT_IV);
  const wrapped = Buffer.concat([cipher.update(dataKey), cipher.final()]);
  invariant(wrapped.length === VAULT_WRAPPED_KEY_BYTES, "a wrapped data key is 40 bytes");
  return new Uint8Array(wrapped);
}

/** The key wrapped in `wrappedKey`; throws VAULT_CORRUPT (naming `record`) when its integrity check fails. */
export function unwrapDataKey(masterKey: Uint8Array, wrappedKey: Uint8Array, record: string): Buffer {
  if (wrappedKey.length !== VAULT_WRAPPED_KEY_BYTES)
    throw corrupt(record, "its wrapped key has the wrong length");
  try {
    const decipher = createDecipheriv("id-aes256-wrap", masterKey, KW_DEFAULT_IV);
    return Buffer.concat([decipher.update(wrappedKey), decipher.final()]);
  } catch (cause) {
    throw corrupt(
      record,
      "its wrapped data key failed the integrity check (altered, or another master key)",
      cause,
    );
  }
}

/**
 * The GCM additional data: a domain label, the format version, then each field length-prefixed
 * (record id, patient, category, format as UTF-8; the 32-byte content hash last), so no two distinct
 * records share an encoding.
 */
export function vaultAdditionalData(meta: VaultRecordMeta, version: number): Uint8Array {
  const fields = [
    utf8(meta.record),
    utf8(meta.patient),
    utf8(meta.category),
    utf8(meta.format),
    meta.contentHash,
  ];
  const parts: Uint8Array[] = [lengthPrefixed(AAD_DOMAIN), Uint8Array.of(version)];
  for (const field of fields) parts.push(lengthPrefixed(field));
  return concatBytes(...parts);
}

function lengthPrefixed(bytes: Uint8Array): Uint8Array {
  invariant(bytes.length <= 0xffff, "an additional-data field fits a 2-byte length");
  return concatBytes(Uint8Array.of(bytes.length >> 8, bytes.length & 0xff), bytes);
}

function corrupt(record: string, why: string, cause?: unknown): NodeError {
  return new NodeError("VAULT_CORRUPT", `vault record ${JSON.stringify(record)} is corrupt: ${why}`, {
    cause,
  });
}
