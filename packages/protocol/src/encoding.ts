/**
 * The protocol's one deterministic encoding: canonical CBOR (RFC 8949 section 4.2.1, "core
 * deterministic encoding") through cborg. Map keys are text strings sorted by their encoded bytes,
 * integers take the shortest form, lengths are definite. The value model is deliberately small:
 * null, booleans, unsigned safe integers, text strings (well-formed Unicode), byte strings
 * (Uint8Array), arrays and plain objects with string keys. No floats, negative numbers, undefined,
 * bigints, tags or indefinite lengths: `encodeCanonical` refuses them and `decodeCanonical` rejects
 * every byte string that is not exactly the canonical encoding of such a value (one pass over the
 * bytes checks every head, string and map order without re-encoding; the test suite checks it
 * against the re-encode-and-compare definition). Every failure is a ProtocolError.
 *
 * Because a canonical encoding embeds the canonical encoding of each of its parts, the `cbor*`
 * helpers locate parts inside validated bytes: a block's transactions, a signed transaction's
 * unsigned part. Hashing those slices is hashing a fresh encoding, without encoding anything.
 *
 * The `read*` helpers check the shape of a decoded value field by field for the format modules.
 */
import { decode, encode, rfc8949EncodeOptions } from "cborg";
import { compareBytes, utf8Length } from "./bytes.js";
import { ProtocolError } from "./errors.js";
import { encoding_depth_max } from "./limits.js";

/** A value of the protocol's CBOR model. */
export type CborValue = null | boolean | number | string | Uint8Array | CborValue[] | CborMap;
/** A CBOR map of the protocol's model: a plain object with text keys. */
export interface CborMap {
  [key: string]: CborValue;
}

/** Options of the encoder and decoder. */
export interface EncodingOptions {
  /** Largest encoding accepted, in bytes (ENCODING_TOO_LARGE beyond). */
  bytesMax: number;
  /** A name for the encoded object in error messages (e.g. "tx"). */
  field?: string;
}

/** cborg's strict decoding of the value model (exported for the tests' reference decoder). */
export const DECODE_OPTIONS = {
  strict: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowInfinity: false,
  allowNaN: false,
  allowBigInt: false,
  rejectDuplicateMapKeys: true,
  useMaps: false,
  tags: [],
} as const;

/** Canonical CBOR of `value`; throws ENCODING_INVALID outside the value model, ENCODING_TOO_LARGE past `bytesMax`. */
export function encodeCanonical(value: unknown, options: EncodingOptions): Uint8Array {
  const field = options.field ?? "value";
  checkValue(value, field, 0);
  let bytes: Uint8Array;
  try {
    bytes = encodeModel(value) ?? encode(value, rfc8949EncodeOptions);
  } catch (cause) {
    throw new ProtocolError("ENCODING_INVALID", `${field} cannot be encoded`, { field, cause });
  }
  checkSize(bytes.length, options.bytesMax, field);
  return bytes;
}

/**
 * Canonical CBOR of `value` when it is within the value model (what encodeCanonical accepts), written
 * directly: the same bytes as cborg with RFC 8949 options (tested byte for byte), several times faster
 * because map keys are ordered by (UTF-8 length, bytes) without encoding them to compare. Returns null
 * for anything outside the model (negative or unsafe numbers, undefined, Maps, ill-formed text...): the
 * caller then falls back to cborg, so no value is ever encoded differently.
 */
export function encodeModel(value: unknown): Uint8Array | null {
  const writer = new Writer();
  return writeModel(writer, value, 0) ? writer.finish() : null;
}

const TEXT_ENCODER = new TextEncoder();

/** A growable byte buffer. */
class Writer {
  private bytes = new Uint8Array(256);
  private length = 0;

  reserve(extra: number): void {
    if (this.length + extra <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.length + extra) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  /** Writes a head: major type and argument in its shortest form. */
  head(major: number, value: number): void {
    this.reserve(9);
    const out = this.bytes;
    const top = major << 5;
    if (value < 24) {
      out[this.length++] = top | value;
    } else if (value < 256) {
      out[this.length++] = top | 24;
      out[this.length++] = value;
    } else if (value < 65_536) {
      out[this.length++] = top | 25;
      out[this.length++] = value >> 8;
      out[this.length++] = value & 0xff;
    } else if (value < TWO_32) {
      out[this.length++] = top | 26;
      out[this.length++] = value >>> 24;
      out[this.length++] = (value >>> 16) & 0xff;
      out[this.length++] = (value >>> 8) & 0xff;
      out[this.length++] = value & 0xff;
    } else {
      const high = Math.floor(value / TWO_32);
      const low = value >>> 0;
      out[this.length++] = top | 27;
      out[this.length++] = high >>> 24;
      out[this.length++] = (high >>> 16) & 0xff;
      out[this.length++] = (high >>> 8) & 0xff;
      out[this.length++] = high & 0xff;
      out[this.length++] = low >>> 24;
      out[this.length++] = (low >>> 16) & 0xff;
      out[this.length++] = (low >>> 8) & 0xff;
      out[this.length++] = low & 0xff;
    }
  }

  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.bytes.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** Writes `text`, known to be ASCII, one byte per character. */
  ascii(text: string): void {
    this.reserve(text.length);
    const out = this.bytes;
    let at = this.length;
    for (let index = 0; index < text.length; index++) out[at++] = text.charCodeAt(index);
    this.length = at;
  }

  byte(value: number): void {
    this.reserve(1);
    this.bytes[this.length++] = value;
  }

  finish(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}

interface WellFormed {
  isWellFormed(): boolean;
}

function writeModel(writer: Writer, value: unknown, depth: number): boolean {
  switch (typeof value) {
    case "boolean":
      writer.byte(value ? 0xf5 : 0xf4);
      return true;
    case "number":
      if (!Number.isSafeInteger(value) || value < 0 || Object.is(value, -0)) return false;
      writer.head(0, value);
      return true;
    case "string":
      return writeText(writer, value);
    case "object":
      break;
    default:
      return false;
  }
  if (value === null) {
    writer.byte(0xf6);
    return true;
  }
  if (value instanceof Uint8Array) {
    writer.head(2, value.length);
    writer.raw(value);
    return true;
  }
  if (depth >= encoding_depth_max) return false;
  if (Array.isArray(value)) {
    writer.head(4, value.length);
    for (let index = 0; index < value.length; index++) {
      if (!(index in value) || !writeModel(writer, value[index], depth + 1)) return false;
    }
    return true;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return false;
  const record = value as Record<string, unknown>;
  const keys: EncodedKey[] = [];
  for (const key of Object.keys(record)) {
    const encoded = encodedKey(key);
    if (encoded === null) return false;
    keys.push(encoded);
  }
  keys.sort(compareKeys);
  writer.head(5, keys.length);
  for (const { key, encoded } of keys) {
    writer.raw(encoded);
    if (!writeModel(writer, record[key], depth + 1)) return false;
  }
  return true;
}

/** Writes a text string: ASCII directly, anything else through TextEncoder; false when ill-formed. */
function writeText(writer: Writer, text: string): boolean {
  const length = text.length;
  let ascii = true;
  for (let index = 0; index < length; index++) {
    if (text.charCodeAt(index) > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    writer.head(3, length);
    writer.ascii(text);
    return true;
  }
  if (!(text as unknown as WellFormed).isWellFormed()) return false;
  const bytes = TEXT_ENCODER.encode(text);
  writer.head(3, bytes.length);
  writer.raw(bytes);
  return true;
}

/** A map key with its whole encoding (head and UTF-8), and its UTF-8 length for ordering. */
interface EncodedKey {
  readonly key: string;
  readonly encoded: Uint8Array;
  readonly length: number;
}

/** Keys repeat (a handful of field names): their encodings are kept, up to a bound. */
const KEY_CACHE = new Map<string, EncodedKey>();
const KEY_CACHE_ENTRIES_MAX = 1024;
const KEY_CACHE_LENGTH_MAX = 64;

function encodedKey(key: string): EncodedKey | null {
  const cached = KEY_CACHE.get(key);
  if (cached !== undefined) return cached;
  if (key === "__proto__" || !(key as unknown as WellFormed).isWellFormed()) return null;
  const writer = new Writer();
  writeText(writer, key);
  const encoded = writer.finish();
  const utf8Bytes = TEXT_ENCODER.encode(key).length;
  const entry = { key, encoded, length: utf8Bytes };
  if (key.length <= KEY_CACHE_LENGTH_MAX && KEY_CACHE.size < KEY_CACHE_ENTRIES_MAX) KEY_CACHE.set(key, entry);
  return entry;
}

/** RFC 8949 order of text keys: by encoded bytes, i.e. by UTF-8 length, then bytewise. */
function compareKeys(left: EncodedKey, right: EncodedKey): number {
  return left.length !== right.length
    ? left.length - right.length
    : compareBytes(left.encoded, right.encoded);
}

/** The value whose canonical CBOR is exactly `bytes`; throws ENCODING_INVALID or ENCODING_TOO_LARGE. */
export function decodeCanonical(bytes: Uint8Array, options: EncodingOptions): CborValue {
  const field = options.field ?? "value";
  if (!(bytes instanceof Uint8Array)) {
    throw new ProtocolError("ENCODING_INVALID", `${field} is not a byte string`, { field });
  }
  checkSize(bytes.length, options.bytesMax, field);
  checkCanonical(bytes, field);
  let value: unknown;
  try {
    value = decode(bytes, DECODE_OPTIONS);
  } catch (cause) {
    throw new ProtocolError("ENCODING_INVALID", `${field} is not valid CBOR`, { field, cause });
  }
  return copyBytes(value as CborValue);
}

/**
 * Throws ENCODING_INVALID unless `bytes` is exactly one canonical encoding of a value of the model:
 * every head in its shortest form and definite, integers unsigned and safe, text well-formed UTF-8,
 * only false/true/null as simple values, no tags or floats, map keys text (never __proto__) in strictly
 * ascending order of their encodings, nesting within encoding_depth_max, nothing after the item.
 */
export function checkCanonical(bytes: Uint8Array, field = "value"): void {
  const end = scanItem(bytes, 0, 0, field);
  if (end !== bytes.length) throw invalid(field, "has bytes after its value");
}

/** Where the data item at `offset` of validated canonical CBOR `bytes` ends. */
export function cborItemEnd(bytes: Uint8Array, offset: number): number {
  return scanItem(bytes, offset, 0, "value");
}

/** The byte range [start, end) of each item of the array at `offset` of validated canonical CBOR. */
export function cborArrayItems(bytes: Uint8Array, offset: number): Array<[number, number]> {
  const head = readHead(bytes, offset, "value");
  if (head.major !== 4) throw invalid("value", "is not an array");
  const items: Array<[number, number]> = [];
  let at = head.next;
  for (let index = 0; index < head.value; index++) {
    const itemEnd = cborItemEnd(bytes, at);
    items.push([at, itemEnd]);
    at = itemEnd;
  }
  return items;
}

/** Every entry of the map at `offset` of validated canonical CBOR: its text key and its value's byte range. */
export function cborMapEntries(
  bytes: Uint8Array,
  offset: number,
): Array<{ key: string; start: number; end: number }> {
  const head = readHead(bytes, offset, "value");
  if (head.major !== 5) throw invalid("value", "is not a map");
  const entries: Array<{ key: string; start: number; end: number }> = [];
  let at = head.next;
  for (let index = 0; index < head.value; index++) {
    const keyHead = readHead(bytes, at, "value");
    if (keyHead.major !== 3) throw invalid("value", "has a map key that is not text");
    const keyEnd = keyHead.next + keyHead.value;
    const end = cborItemEnd(bytes, keyEnd);
    entries.push({ key: TEXT.decode(bytes.subarray(keyHead.next, keyEnd)), start: keyEnd, end });
    at = end;
  }
  return entries;
}

/**
 * The value of validated canonical CBOR `bytes` (checkCanonical passed on them or on bytes they are a
 * part of): decoded without the canonical check. Byte strings are copies.
 */
export function decodeValidated(bytes: Uint8Array): CborValue {
  try {
    return copyBytes(decode(bytes, DECODE_OPTIONS) as CborValue);
  } catch (cause) {
    throw new ProtocolError("ENCODING_INVALID", "value is not valid CBOR", { field: "value", cause });
  }
}

/** The byte range [start, end) of the value of text key `key` in the map at `offset`, or null. */
export function cborMapValue(bytes: Uint8Array, offset: number, key: string): [number, number] | null {
  const head = readHead(bytes, offset, "value");
  if (head.major !== 5) throw invalid("value", "is not a map");
  let at = head.next;
  for (let index = 0; index < head.value; index++) {
    const keyHead = readHead(bytes, at, "value");
    const keyEnd = keyHead.next + keyHead.value;
    const name = keyHead.major === 3 ? TEXT.decode(bytes.subarray(keyHead.next, keyEnd)) : null;
    const valueEnd = cborItemEnd(bytes, keyEnd);
    if (name === key) return [keyEnd, valueEnd];
    at = valueEnd;
  }
  return null;
}

const TEXT = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const TWO_32 = 2 ** 32;

interface Head {
  major: number;
  value: number;
  next: number;
}

/** Reads the head at `at`: major type, argument (shortest form enforced) and where its content starts. */
function readHead(bytes: Uint8Array, at: number, field: string): Head {
  const initial = bytes[at];
  if (initial === undefined) throw invalid(field, "is truncated");
  const major = initial >> 5;
  const info = initial & 31;
  if (info < 24) return { major, value: info, next: at + 1 };
  const width = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
  if (width === 0) throw invalid(field, "has an indefinite length or a reserved head");
  if (at + 1 + width > bytes.length) throw invalid(field, "is truncated");
  let value = 0;
  for (let index = 1; index <= width; index++) value = value * 256 + (bytes[at + index] as number);
  const floor = width === 1 ? 24 : width === 2 ? 256 : width === 4 ? 65_536 : TWO_32;
  if (value < floor) throw invalid(field, "is not in canonical form");
  if (value > Number.MAX_SAFE_INTEGER) throw invalid(field, "has an integer beyond the safe range");
  return { major, value, next: at + 1 + width };
}

/** Validates the canonical item at `at` (at nesting `depth`) and returns where it ends. */
function scanItem(bytes: Uint8Array, at: number, depth: number, field: string): number {
  const head = readHead(bytes, at, field);
  switch (head.major) {
    case 0:
      return head.next;
    case 2:
    case 3: {
      const end = head.next + head.value;
      if (end > bytes.length) throw invalid(field, "is truncated");
      if (head.major === 3) checkText(bytes, head.next, end, field);
      return end;
    }
    case 4: {
      if (depth >= encoding_depth_max) throw invalid(field, `nests deeper than ${encoding_depth_max}`);
      let next = head.next;
      for (let index = 0; index < head.value; index++) next = scanItem(bytes, next, depth + 1, field);
      return next;
    }
    case 5: {
      if (depth >= encoding_depth_max) throw invalid(field, `nests deeper than ${encoding_depth_max}`);
      let next = head.next;
      let previous: Uint8Array | null = null;
      for (let index = 0; index < head.value; index++) {
        const keyHead = readHead(bytes, next, field);
        if (keyHead.major !== 3) throw invalid(field, "has a map key that is not text");
        const keyEnd = keyHead.next + keyHead.value;
        if (keyEnd > bytes.length) throw invalid(field, "is truncated");
        const key = bytes.subarray(next, keyEnd);
        if (previous !== null && compareBytes(previous, key) >= 0) {
          throw invalid(field, "is not in canonical form");
        }
        checkText(bytes, keyHead.next, keyEnd, field);
        if (isProtoKey(bytes, keyHead.next, keyEnd)) {
          throw invalid(field, "has a __proto__ key");
        }
        previous = key;
        next = scanItem(bytes, keyEnd, depth + 1, field);
      }
      return next;
    }
    case 7:
      if (head.next === at + 1 && head.value >= 20 && head.value <= 22) return head.next; // false, true, null
      throw invalid(field, "has a float or a simple value outside false, true and null");
    default:
      throw invalid(field, "has a negative integer or a tag");
  }
}

/** Text must be well-formed UTF-8 without a leading byte order mark (decoders drop it, so it cannot round-trip). */
function checkText(bytes: Uint8Array, start: number, end: number, field: string): void {
  let ascii = true;
  for (let index = start; index < end; index++) {
    if ((bytes[index] as number) > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) return; // ASCII is well-formed UTF-8 and cannot start with a byte order mark
  if (end - start >= 3 && bytes[start] === 0xef && bytes[start + 1] === 0xbb && bytes[start + 2] === 0xbf) {
    throw invalid(field, "has text starting with a byte order mark");
  }
  try {
    TEXT.decode(bytes.subarray(start, end));
  } catch {
    throw invalid(field, "is not well-formed UTF-8");
  }
}

const PROTO_KEY = new TextEncoder().encode("__proto__");

function isProtoKey(bytes: Uint8Array, start: number, end: number): boolean {
  if (end - start !== PROTO_KEY.length) return false;
  for (let index = 0; index < PROTO_KEY.length; index++) {
    if (bytes[start + index] !== PROTO_KEY[index]) return false;
  }
  return true;
}

function checkSize(length: number, bytesMax: number, field: string): void {
  if (length > bytesMax) {
    throw new ProtocolError("ENCODING_TOO_LARGE", `${field} is ${length} bytes, more than ${bytesMax}`, {
      field,
    });
  }
}

const LONE_SURROGATE = /\p{Cs}/u;

/** Throws ENCODING_INVALID unless `value` is within the CBOR value model (depth-bounded). */
function checkValue(value: unknown, field: string, depth: number): void {
  switch (typeof value) {
    case "boolean":
      return;
    case "number":
      if (!Number.isSafeInteger(value) || value < 0 || Object.is(value, -0)) {
        throw invalid(field, "is not an unsigned safe integer");
      }
      return;
    case "string":
      if (LONE_SURROGATE.test(value)) throw invalid(field, "is not well-formed Unicode");
      if (value.startsWith("\uFEFF")) throw invalid(field, "starts with a byte order mark");
      return;
    case "object":
      checkContainer(value, field, depth);
      return;
    default:
      throw invalid(field, `has unsupported type ${typeof value}`);
  }
}

function checkContainer(value: object | null, field: string, depth: number): void {
  if (value === null || value instanceof Uint8Array) return;
  if (depth >= encoding_depth_max) throw invalid(field, `nests deeper than ${encoding_depth_max}`);
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++)
      checkValue(value[index], `${field}[${index}]`, depth + 1);
    return;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) throw invalid(field, "is not a plain object");
  for (const key of Object.keys(value)) {
    if (key === "__proto__") throw invalid(field, "has a __proto__ key");
    checkValue((value as Record<string, unknown>)[key], `${field}.${key}`, depth + 1);
  }
}

/** Decoded byte strings may be views of the input: give the caller its own copies. */
function copyBytes(value: CborValue): CborValue {
  if (value instanceof Uint8Array) return value.slice();
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) value[index] = copyBytes(value[index] as CborValue);
    return value;
  }
  if (value !== null && typeof value === "object") {
    for (const key of Object.keys(value)) value[key] = copyBytes(value[key] as CborValue);
  }
  return value;
}

function invalid(field: string, message: string): ProtocolError {
  return new ProtocolError("ENCODING_INVALID", `${field} ${message}`, { field });
}

// Shape readers for decoded values: each throws a ProtocolError naming the field.

/**
 * The map `value` with exactly the `required` keys and any of the `optional` ones; FIELD_INVALID when
 * it is not a map, FIELD_MISSING for an absent required key, FIELD_UNKNOWN for any other key.
 */
export function readMap(
  value: unknown,
  field: string,
  keys: { required: readonly string[]; optional?: readonly string[] },
): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw new ProtocolError("FIELD_INVALID", `${field} must be a map`, { field });
  }
  const record = value as Record<string, unknown>;
  for (const key of keys.required) {
    if (!Object.hasOwn(record, key)) {
      throw new ProtocolError("FIELD_MISSING", `${field}.${key} is required`, { field: `${field}.${key}` });
    }
  }
  for (const key of Object.keys(record)) {
    if (!keys.required.includes(key) && !(keys.optional ?? []).includes(key)) {
      throw new ProtocolError("FIELD_UNKNOWN", `${field}.${key} is not a known field`, {
        field: `${field}.${key}`,
      });
    }
  }
  return record;
}

/** `value` as an unsigned safe integer no larger than `max`; FIELD_INVALID otherwise. */
export function readUint(value: unknown, field: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new ProtocolError("FIELD_INVALID", `${field} must be an unsigned integer at most ${max}`, {
      field,
    });
  }
  return value;
}

/** `value` as a byte string of exactly `length` bytes; FIELD_INVALID otherwise. */
export function readFixedBytes(value: unknown, field: string, length: number): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== length) {
    throw new ProtocolError("FIELD_INVALID", `${field} must be ${length} bytes`, { field });
  }
  return value;
}

/** `value` as a text string of at most `bytesMax` UTF-8 bytes matching `pattern` when given. */
export function readText(
  value: unknown,
  field: string,
  options: { bytesMax: number; pattern?: RegExp },
): string {
  if (typeof value !== "string") throw new ProtocolError("FIELD_INVALID", `${field} must be text`, { field });
  if (utf8Length(value) > options.bytesMax) {
    throw new ProtocolError("FIELD_TOO_LARGE", `${field} is longer than ${options.bytesMax} bytes`, {
      field,
    });
  }
  if (options.pattern !== undefined && !options.pattern.test(value)) {
    throw new ProtocolError("FIELD_INVALID", `${field} has an invalid format`, { field });
  }
  return value;
}

/** `value` as an array of at most `countMax` items; FIELD_INVALID or FIELD_TOO_LARGE otherwise. */
export function readList(value: unknown, field: string, countMax: number): unknown[] {
  if (!Array.isArray(value)) throw new ProtocolError("FIELD_INVALID", `${field} must be an array`, { field });
  if (value.length > countMax) {
    throw new ProtocolError("FIELD_TOO_LARGE", `${field} has more than ${countMax} items`, { field });
  }
  return value;
}

/** `value` as a boolean; FIELD_INVALID otherwise. */
export function readBoolean(value: unknown, field: string): boolean {
  if (typeof value !== "boolean")
    throw new ProtocolError("FIELD_INVALID", `${field} must be a boolean`, { field });
  return value;
}
