/**
 * The protocol's one deterministic encoding: canonical CBOR (RFC 8949 section 4.2.1, "core
 * deterministic encoding") through cborg. Map keys are text strings sorted by their encoded bytes,
 * integers take the shortest form, lengths are definite. The value model is deliberately small:
 * null, booleans, unsigned safe integers, text strings (well-formed Unicode), byte strings
 * (Uint8Array), arrays and plain objects with string keys. No floats, negative numbers, undefined,
 * bigints, tags or indefinite lengths: `encodeCanonical` refuses them and `decodeCanonical` rejects
 * every byte string that is not exactly the canonical encoding of such a value (it decodes strictly,
 * checks the value model, re-encodes and compares bytes). Every failure is a ProtocolError.
 *
 * The `read*` helpers check the shape of a decoded value field by field for the format modules.
 */
import { decode, encode, rfc8949EncodeOptions } from "cborg";
import { bytesEqual, utf8Length } from "./bytes.js";
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

const DECODE_OPTIONS = {
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
    bytes = encode(value, rfc8949EncodeOptions);
  } catch (cause) {
    throw new ProtocolError("ENCODING_INVALID", `${field} cannot be encoded`, { field, cause });
  }
  checkSize(bytes.length, options.bytesMax, field);
  return bytes;
}

/** The value whose canonical CBOR is exactly `bytes`; throws ENCODING_INVALID or ENCODING_TOO_LARGE. */
export function decodeCanonical(bytes: Uint8Array, options: EncodingOptions): CborValue {
  const field = options.field ?? "value";
  if (!(bytes instanceof Uint8Array)) {
    throw new ProtocolError("ENCODING_INVALID", `${field} is not a byte string`, { field });
  }
  checkSize(bytes.length, options.bytesMax, field);
  let value: unknown;
  try {
    value = decode(bytes, DECODE_OPTIONS);
  } catch (cause) {
    throw new ProtocolError("ENCODING_INVALID", `${field} is not valid CBOR`, { field, cause });
  }
  checkValue(value, field, 0);
  let again: Uint8Array;
  try {
    again = encode(value, rfc8949EncodeOptions);
  } catch (cause) {
    throw new ProtocolError("ENCODING_INVALID", `${field} cannot be re-encoded`, { field, cause });
  }
  if (!bytesEqual(again, bytes)) {
    throw new ProtocolError("ENCODING_INVALID", `${field} is not in canonical form`, { field });
  }
  return copyBytes(value as CborValue);
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
