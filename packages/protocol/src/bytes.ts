/** Byte helpers shared by the protocol: hex, UTF-8, comparison, concatenation, sha256. */
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { ProtocolError } from "./errors.js";

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

/** The two lowercase hex digits of every byte value. */
const HEX_OF_BYTE = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));
/** The value of a lowercase hex digit by its char code, -1 for any other character. */
const HEX_DIGIT = new Int8Array(128).fill(-1);
for (let digit = 0; digit < 16; digit++) HEX_DIGIT[digit.toString(16).charCodeAt(0)] = digit;

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (let index = 0; index < bytes.length; index++) out += HEX_OF_BYTE[bytes[index] as number];
  return out;
}

/** Bytes of a lowercase hex string; `expectedLength` (in bytes) is checked when given. */
export function fromHex(hex: unknown, options: { field?: string; length?: number } = {}): Uint8Array {
  const field = options.field ?? "hex";
  const invalid = () => new ProtocolError("FIELD_INVALID", `${field} must be lowercase hex`, { field });
  if (typeof hex !== "string" || hex.length % 2 !== 0) throw invalid();
  const out = new Uint8Array(hex.length / 2);
  for (let index = 0; index < out.length; index++) {
    const high = HEX_DIGIT[hex.charCodeAt(index * 2)] ?? -1;
    const low = HEX_DIGIT[hex.charCodeAt(index * 2 + 1)] ?? -1;
    if (high < 0 || low < 0) throw invalid();
    out[index] = high * 16 + low;
  }
  if (options.length !== undefined && out.length !== options.length) {
    throw new ProtocolError("FIELD_INVALID", `${field} must be ${options.length} bytes`, { field });
  }
  return out;
}

/** UTF-8 bytes of `text`. */
export function utf8(text: string): Uint8Array {
  return textEncoder.encode(text);
}

/** The string of UTF-8 `bytes`; throws ENCODING_INVALID on malformed UTF-8. */
export function fromUtf8(bytes: Uint8Array): string {
  try {
    return textDecoder.decode(bytes);
  } catch (cause) {
    throw new ProtocolError("ENCODING_INVALID", "malformed UTF-8", { cause });
  }
}

/** Number of UTF-8 bytes of `text`. */
export function utf8Length(text: string): number {
  return textEncoder.encode(text).length;
}

/** True when `a` and `b` hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false;
  return true;
}

/** Lexicographic order of byte strings (negative, zero or positive). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let index = 0; index < length; index++) {
    const difference = (a[index] as number) - (b[index] as number);
    if (difference !== 0) return difference;
  }
  return a.length - b.length;
}

/** The concatenation of `parts`. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** A sha256 implementation: one call over one byte string. */
export type Sha256 = (bytes: Uint8Array) => Uint8Array;

let sha256Impl: Sha256 = nobleSha256;

/** sha256 of `bytes`: pure JS (noble, browser-safe) unless a faster implementation was installed. */
export function sha256(bytes: Uint8Array): Uint8Array {
  return sha256Impl(bytes);
}

/** Known answers an installed sha256 must give (FIPS 180-2 examples, and lengths around one block). */
const SHA256_CHECKS = [
  new Uint8Array(0),
  utf8("abc"),
  new Uint8Array(55),
  new Uint8Array(64),
  new Uint8Array(1000).fill(7),
];

/**
 * Installs a faster sha256 (e.g. node:crypto's, through `@medledger/protocol/node`) after checking it
 * gives noble's answers; otherwise throws and keeps the current one.
 */
export function installSha256(impl: Sha256): void {
  for (const input of SHA256_CHECKS) {
    const got = impl(input);
    if (!(got instanceof Uint8Array) || toHex(got) !== toHex(nobleSha256(input))) {
      throw new Error("the sha256 implementation gives wrong answers: not installed");
    }
  }
  sha256Impl = impl;
}
