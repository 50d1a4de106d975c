// Goal: the one-pass canonical check accepts exactly what the definition accepts: bytes that decode
// strictly into the value model and re-encode to themselves. Method: differential testing against that
// definition (written here as the oracle, as the decoder did it before) over valid encodings, their
// single-byte mutations, truncations and splices, plus hand-made edge cases; and the part locators
// (cborItemEnd, cborArrayItems, cborMapValue) against re-encoding each part.
import { decode, encode, rfc8949EncodeOptions } from "cborg";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesEqual, fromHex, toHex, utf8 } from "../src/bytes.js";
import {
  type CborValue,
  cborArrayItems,
  cborItemEnd,
  cborMapValue,
  DECODE_OPTIONS,
  decodeCanonical,
  encodeCanonical,
  encodeModel,
} from "../src/encoding.js";
import { isProtocolError } from "../src/errors.js";
import { encoding_depth_max } from "../src/limits.js";

const options = { bytesMax: 1 << 20 };

/** The definition: strict cborg decode, the value model, re-encode, compare. */
function oracleAccepts(bytes: Uint8Array): boolean {
  let value: unknown;
  try {
    value = decode(bytes, DECODE_OPTIONS);
  } catch {
    return false;
  }
  if (!inModel(value, 0)) return false;
  try {
    return bytesEqual(encode(value, rfc8949EncodeOptions), bytes);
  } catch {
    return false;
  }
}

function inModel(value: unknown, depth: number): boolean {
  if (value === null || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 0 && !Object.is(value, -0);
  if (typeof value === "string") return !/\p{Cs}/u.test(value);
  if (value instanceof Uint8Array) return true;
  if (typeof value !== "object" || depth >= encoding_depth_max) return false;
  if (Array.isArray(value)) return value.every((item) => inModel(item, depth + 1));
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return false;
  return Object.keys(value).every(
    (key) => key !== "__proto__" && inModel((value as Record<string, unknown>)[key], depth + 1),
  );
}

function scannerAccepts(bytes: Uint8Array): boolean {
  try {
    decodeCanonical(bytes, options);
    return true;
  } catch (error) {
    expect(isProtocolError(error), String(error)).toBe(true);
    return false;
  }
}

const text = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 12 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom("\uFEFFbom", "a".repeat(40), `\uFEFF${"x".repeat(40)}`, "é", "__proto__x"),
);
/** Values; with `bom`, also text with a leading byte order mark (outside the model: it cannot round-trip). */
function values(bom: boolean): fc.Arbitrary<CborValue> {
  const strings = text.filter((value) => !/\p{Cs}/u.test(value) && (bom || !value.startsWith("\uFEFF")));
  return fc.letrec<{ value: CborValue }>((tie) => ({
    value: fc.oneof(
      { depthSize: "small", maxDepth: 5 },
      fc.constant(null),
      fc.boolean(),
      fc.constantFrom(0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER),
      fc.nat(),
      strings,
      fc.uint8Array({ maxLength: 30 }),
      fc.array(tie("value"), { maxLength: 4 }),
      fc.dictionary(
        fc.string({ maxLength: 6 }).filter((key) => key !== "__proto__"),
        tie("value"),
        { maxKeys: 4 },
      ),
    ),
  })).value;
}
const cborValue = values(false);

/** Bytes near the canonical ones: a byte changed, inserted or removed, a cut, or two encodings spliced. */
const nearby = fc
  .tuple(values(true), values(true), fc.nat(), fc.nat(255), fc.integer({ min: 0, max: 4 }))
  .map(([value, other, position, byte, how]) => {
    const bytes = encode(value, rfc8949EncodeOptions);
    const at = bytes.length === 0 ? 0 : position % bytes.length;
    switch (how) {
      case 0: {
        const copy = bytes.slice();
        copy[at] = byte;
        return copy;
      }
      case 1:
        return Uint8Array.from([...bytes.slice(0, at), byte, ...bytes.slice(at)]);
      case 2:
        return Uint8Array.from([...bytes.slice(0, at), ...bytes.slice(at + 1)]);
      case 3:
        return bytes.slice(0, at);
      default:
        return Uint8Array.from([...bytes.slice(0, at), ...encode(other, rfc8949EncodeOptions)]);
    }
  });

describe("the one-pass canonical check", () => {
  it("accepts every canonical encoding of the model (property)", () => {
    fc.assert(
      fc.property(cborValue, (value) => {
        const bytes = encodeCanonical(value, options);
        expect(oracleAccepts(bytes)).toBe(true);
        expect(scannerAccepts(bytes)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("agrees with decode + re-encode + compare on mutated bytes (property)", () => {
    fc.assert(
      fc.property(nearby, (bytes) => {
        expect(scannerAccepts(bytes), toHex(bytes)).toBe(oracleAccepts(bytes));
      }),
      { numRuns: 5000 },
    );
  });

  it("agrees on arbitrary short byte strings (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12 }), (bytes) => {
        expect(scannerAccepts(bytes), toHex(bytes)).toBe(oracleAccepts(bytes));
      }),
      { numRuns: 5000 },
    );
  });

  it("agrees on hand-made edge cases", () => {
    const cases = [
      "f5",
      "f4",
      "f6",
      "f7",
      "f8ff",
      "f93c00",
      "fa3f800000",
      "fb3ff0000000000000", // simple values, floats
      "1817",
      "1818",
      "190017",
      "1a0000ffff",
      "1b00000000ffffffff",
      "1b001fffffffffffff",
      "1b0020000000000000",
      "20",
      "c000",
      "5f41ff",
      "9fff",
      "bfff",
      "7f6161ff", // negative, tag, indefinite
      "a2616101616102",
      "a2616201616101",
      "a26161016161016",
      "a1626161016162", // duplicate, order, truncated
      "a1011",
      "a10101",
      "a1413001", // non-text keys
      "63efbbbf",
      "64efbbbf61",
      "62c328",
      "63eda080", // BOM, invalid UTF-8, surrogate
      "a1695f5f70726f746f5f5f01", // __proto__
      "8080",
      "",
      "00ff",
    ];
    for (const hex of cases) {
      const bytes = fromHex(hex.length % 2 === 0 ? hex : `${hex}0`);
      expect(scannerAccepts(bytes), hex).toBe(oracleAccepts(bytes));
    }
    let deep = encodeCanonical([], options);
    for (let depth = 1; depth <= encoding_depth_max + 1; depth++) {
      deep = Uint8Array.from([0x81, ...deep]);
      expect(scannerAccepts(deep), `depth ${depth}`).toBe(oracleAccepts(deep));
    }
  });
});

describe("part locators", () => {
  it("find the exact encoding of every array item and map value (property)", () => {
    fc.assert(
      fc.property(
        fc.array(cborValue, { maxLength: 6 }),
        fc.dictionary(
          fc.string({ maxLength: 6 }).filter((key) => key !== "__proto__"),
          cborValue,
          { maxKeys: 5 },
        ),
        (items, map) => {
          const array = encodeCanonical(items, options);
          expect(cborItemEnd(array, 0)).toBe(array.length);
          const ranges = cborArrayItems(array, 0);
          expect(ranges.length).toBe(items.length);
          ranges.forEach(([start, end], index) => {
            expect(toHex(array.subarray(start, end))).toBe(toHex(encodeCanonical(items[index], options)));
          });
          const encodedMap = encodeCanonical(map, options);
          for (const [key, value] of Object.entries(map)) {
            const range = cborMapValue(encodedMap, 0, key);
            expect(range).not.toBeNull();
            const [start, end] = range as [number, number];
            expect(toHex(encodedMap.subarray(start, end))).toBe(toHex(encodeCanonical(value, options)));
          }
          expect(cborMapValue(encodedMap, 0, "no such key, longer than six")).toBeNull();
        },
      ),
      { numRuns: 300 },
    );
  });

  it("refuse the wrong container", () => {
    expect(() => cborArrayItems(encodeCanonical({ a: 1 }, options), 0)).toThrow();
    expect(() => cborMapValue(encodeCanonical([1], options), 0, "a")).toThrow();
    expect(cborMapValue(encodeCanonical({ a: utf8("x") }, options), 0, "a")).toEqual([3, 5]);
  });
});

describe("the direct encoder", () => {
  const anything: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: "small", maxDepth: 5 },
      fc.constantFrom(
        null,
        true,
        false,
        -1,
        -0,
        1.5,
        2 ** 53,
        Number.MAX_SAFE_INTEGER,
        2 ** 32,
        65_535,
        65_536,
        255,
        256,
        23,
        24,
      ),
      fc.nat(),
      fc.integer(),
      fc.string({ unit: "binary", maxLength: 30 }),
      fc.string({ unit: "grapheme", maxLength: 12 }),
      fc.constantFrom("\uD800", "a\uDC00b", "\uFEFFx", "é".repeat(30)),
      fc.uint8Array({ maxLength: 300 }),
      fc.array(tie("value"), { maxLength: 4 }),
      fc.dictionary(fc.string({ unit: "binary", maxLength: 8 }), tie("value"), { maxKeys: 5 }),
    ),
  })).value;

  it("writes exactly cborg's RFC 8949 bytes for every value it accepts, and accepts the whole model (property)", () => {
    fc.assert(
      fc.property(anything, (value) => {
        const direct = encodeModel(value);
        let reference: Uint8Array | null = null;
        try {
          reference = encode(value, rfc8949EncodeOptions);
        } catch {
          reference = null;
        }
        if (direct !== null) {
          expect(reference, "cborg encodes what the direct encoder encodes").not.toBeNull();
          expect(toHex(direct)).toBe(toHex(reference as Uint8Array));
        }
        if (inModel(value, 0) && !(typeof value === "string" && value.startsWith("\uFEFF"))) {
          expect(direct, "every value of the model is encoded directly").not.toBeNull();
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("refuses what is outside the model so the caller falls back", () => {
    for (const value of [
      -1,
      1.5,
      -0,
      2 ** 53,
      undefined,
      new Map(),
      [undefined],
      { a: undefined },
      "\uD800",
      10n,
    ]) {
      expect(encodeModel(value)).toBeNull();
    }
    const sparse: unknown[] = [];
    sparse[2] = 1;
    expect(encodeModel(sparse)).toBeNull();
    let deep: unknown = [];
    for (let depth = 0; depth < encoding_depth_max + 1; depth++) deep = [deep];
    expect(encodeModel(deep)).toBeNull();
  });
});
