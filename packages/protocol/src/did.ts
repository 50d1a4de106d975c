/**
 * did:key identities for ed25519 public keys (https://w3c-ccg.github.io/did-method-key/):
 * `did:key:z` + base58btc(0xed 0x01 || publicKey). Decoding is strict: one spelling per key, and the
 * key must be a canonical, non-small-order point encoding, so a DID that passes here can be handed to
 * either verifier. The byte-level ed25519 encoding checks live here (signer.ts's pre-check uses them).
 */
import { ProtocolError } from "./errors.js";
import { did_bytes_max, did_cache_entries_max, public_key_bytes } from "./limits.js";
import type { Did } from "./types.js";

/** The did:key prefix every medledger identity starts with. */
export const DID_KEY_PREFIX = "did:key:z";
/** Multicodec prefix of an ed25519 public key (varint of 0xed). */
const ED25519_MULTICODEC = [0xed, 0x01] as const;
const BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const BASE58_INDEX: ReadonlyMap<string, number> = new Map(
  [...BASE58_ALPHABET].map((character, index) => [character, index]),
);
/**
 * DID strings that passed the full check, oldest first (at most did_cache_entries_max). Only valid
 * strings enter; the check is a pure function of the string, so a hit answers exactly as a decode.
 */
const validDids = new Set<string>();

/** The did:key of a 32-byte ed25519 public key; throws KEY_INVALID on a key no verifier accepts. */
export function publicKeyToDid(publicKey: Uint8Array): Did {
  if (!isStrictPublicKeyBytes(publicKey)) {
    throw new ProtocolError("KEY_INVALID", "not a canonical, non-small-order ed25519 public key");
  }
  const multicodec = new Uint8Array(2 + public_key_bytes);
  multicodec.set(ED25519_MULTICODEC, 0);
  multicodec.set(publicKey, 2);
  return DID_KEY_PREFIX + base58Encode(multicodec);
}

/** The 32-byte public key named by `did`; throws DID_INVALID (with `field`) on anything else. */
export function didToPublicKey(did: unknown, field = "did"): Uint8Array {
  if (typeof did !== "string" || did.length > did_bytes_max || !did.startsWith(DID_KEY_PREFIX)) {
    throw new ProtocolError("DID_INVALID", `${field} is not an ed25519 did:key`, { field });
  }
  const decoded = base58Decode(did.slice(DID_KEY_PREFIX.length));
  if (
    decoded === undefined ||
    decoded.length !== 2 + public_key_bytes ||
    decoded[0] !== ED25519_MULTICODEC[0] ||
    decoded[1] !== ED25519_MULTICODEC[1]
  ) {
    throw new ProtocolError("DID_INVALID", `${field} is not an ed25519 did:key`, { field });
  }
  const publicKey = decoded.slice(2);
  if (!isStrictPublicKeyBytes(publicKey)) {
    throw new ProtocolError("DID_INVALID", `${field} names a non-canonical or small-order key`, { field });
  }
  return publicKey;
}

/** True when `value` is a valid ed25519 did:key string. */
export function isDid(value: unknown): value is Did {
  try {
    parseDid(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * Returns `value` typed as a Did when it passes the full check (decoding, multicodec, a canonical,
 * non-small-order key); throws DID_INVALID with `field` otherwise. Valid strings are remembered
 * (bounded by did_cache_entries_max), so a DID seen before costs a set lookup.
 */
export function parseDid(value: unknown, field = "did"): Did {
  if (typeof value === "string" && validDids.has(value)) return value;
  didToPublicKey(value, field);
  const did = value as Did;
  if (validDids.size >= did_cache_entries_max) {
    const oldest = validDids.values().next();
    if (oldest.done !== true) validDids.delete(oldest.value);
  }
  validDids.add(did);
  return did;
}

function isStrictPublicKeyBytes(publicKey: Uint8Array): boolean {
  return (
    publicKey.length === public_key_bytes && isCanonicalPoint(publicKey) && !isSmallOrderPoint(publicKey)
  );
}

/** base58btc (Bitcoin alphabet) of `bytes`; leading zero bytes become leading '1's. */
export function base58Encode(bytes: Uint8Array): string {
  let zeros = 0;
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
  const digits: number[] = []; // base-58 digits, least significant first
  for (let index = zeros; index < bytes.length; index++) {
    let carry = bytes[index] as number;
    for (let digit = 0; digit < digits.length; digit++) {
      carry += (digits[digit] as number) * 256;
      digits[digit] = carry % 58;
      carry = Math.floor(carry / 58);
    }
    while (carry > 0) {
      digits.push(carry % 58);
      carry = Math.floor(carry / 58);
    }
  }
  let out = "1".repeat(zeros);
  for (let digit = digits.length - 1; digit >= 0; digit--) out += BASE58_ALPHABET[digits[digit] as number];
  return out;
}

/** Bytes of a base58btc string, or undefined when it has a foreign character or a non-canonical spelling. */
export function base58Decode(text: string): Uint8Array | undefined {
  let zeros = 0;
  while (zeros < text.length && text[zeros] === "1") zeros++;
  const bytes: number[] = []; // base-256 digits, least significant first
  for (let index = zeros; index < text.length; index++) {
    const value = BASE58_INDEX.get(text[index] as string);
    if (value === undefined) return undefined;
    let carry = value;
    for (let byte = 0; byte < bytes.length; byte++) {
      carry += (bytes[byte] as number) * 58;
      bytes[byte] = carry & 0xff;
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push(carry & 0xff);
      carry >>= 8;
    }
  }
  const out = new Uint8Array(zeros + bytes.length);
  for (let index = 0; index < bytes.length; index++) {
    out[out.length - 1 - index] = bytes[index] as number;
  }
  return out;
}

// ed25519 encodings (RFC 8032 section 5.1.2/5.1.3), checked on bytes alone: no curve arithmetic.

/** p = 2^255 - 19, little-endian. */
const FIELD_PRIME_LE = littleEndian((1n << 255n) - 19n);
/** L = 2^252 + 27742317777372353535851937790883648493, the prime order of the base point, little-endian. */
const GROUP_ORDER_LE = littleEndian((1n << 252n) + 27742317777372353535851937790883648493n);
/**
 * The canonical encodings of the eight points of small order (the torsion subgroup E[8]): the identity,
 * the point of order 2, two of order 4 and four of order 8. Non-canonical spellings of them are
 * rejected by `isCanonicalPoint` already. Source: "Taming the many EdDSAs" (Chalkias, Garillot,
 * Nikolaenko, SSR 2020), and libsodium's `has_small_order` blocklist; checked against noble in tests.
 */
export const SMALL_ORDER_POINTS: readonly string[] = [
  "0100000000000000000000000000000000000000000000000000000000000000",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0000000000000000000000000000000000000000000000000000000000000080",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
];
const SMALL_ORDER_BYTES = SMALL_ORDER_POINTS.map(
  (hex) => new Uint8Array(hex.match(/../g)?.map((pair) => Number.parseInt(pair, 16)) ?? []),
);

/**
 * True when 32 bytes are the canonical encoding of a y coordinate and sign bit: y < p, and the sign
 * bit is clear when x must be 0 (y = 1 or y = p - 1). Whether y is on the curve is left to the verifier.
 */
export function isCanonicalPoint(encoding: Uint8Array): boolean {
  if (encoding.length !== 32) return false;
  const signBit = ((encoding[31] as number) & 0x80) !== 0;
  const y = encoding.slice();
  y[31] = (y[31] as number) & 0x7f;
  if (compareLittleEndian(y, FIELD_PRIME_LE) >= 0) return false;
  if (signBit && (isLittleEndianValue(y, 1) || isPrimeMinusOne(y))) return false;
  return true;
}

/** True when 32 bytes are one of the eight small-order points (canonical spellings). */
export function isSmallOrderPoint(encoding: Uint8Array): boolean {
  return SMALL_ORDER_BYTES.some((candidate) => equal32(candidate, encoding));
}

/** True when 32 little-endian bytes encode a scalar s < L (RFC 8032's check on a signature's S). */
export function isCanonicalScalar(encoding: Uint8Array): boolean {
  return encoding.length === 32 && compareLittleEndian(encoding, GROUP_ORDER_LE) < 0;
}

function littleEndian(value: bigint): Uint8Array {
  const out = new Uint8Array(32);
  let rest = value;
  for (let index = 0; index < 32; index++) {
    out[index] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return out;
}

function compareLittleEndian(a: Uint8Array, b: Uint8Array): number {
  for (let index = 31; index >= 0; index--) {
    const difference = (a[index] as number) - (b[index] as number);
    if (difference !== 0) return difference;
  }
  return 0;
}

function isLittleEndianValue(bytes: Uint8Array, value: number): boolean {
  if (bytes[0] !== value) return false;
  for (let index = 1; index < 32; index++) if (bytes[index] !== 0) return false;
  return true;
}

function isPrimeMinusOne(bytes: Uint8Array): boolean {
  if (bytes[0] !== (FIELD_PRIME_LE[0] as number) - 1) return false;
  for (let index = 1; index < 32; index++) if (bytes[index] !== FIELD_PRIME_LE[index]) return false;
  return true;
}

function equal32(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== 32 || b.length !== 32) return false;
  for (let index = 0; index < 32; index++) if (a[index] !== b[index]) return false;
  return true;
}
