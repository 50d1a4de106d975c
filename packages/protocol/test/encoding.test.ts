// Goal: the canonical CBOR layer is deterministic, lossless, and rejects every non-canonical or
// out-of-model input with a typed error. Method: property round trips over generated values,
// hand-written non-canonical byte strings (RFC 8949 section 4.2.1 rules one by one), size and depth limits.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromHex, toHex } from "../src/bytes.js";
import { type CborValue, decodeCanonical, encodeCanonical } from "../src/encoding.js";
import { isProtocolError } from "../src/errors.js";
import { encoding_depth_max } from "../src/limits.js";

const options = { bytesMax: 1 << 20 };

const cborValue: fc.Arbitrary<CborValue> = fc.letrec<{ value: CborValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", maxDepth: 4 },
    fc.constant(null),
    fc.boolean(),
    fc.oneof(
      fc.nat(),
      fc.constantFrom(0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER),
    ),
    fc.string({ unit: "grapheme", maxLength: 20 }),
    fc.uint8Array({ maxLength: 40 }),
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(
      fc.string({ maxLength: 8 }).filter((key) => key !== "__proto__"),
      tie("value"),
      { maxKeys: 5 },
    ),
  ),
})).value;

function expectCode(action: () => unknown, code: string): void {
  try {
    action();
  } catch (error) {
    expect(isProtocolError(error), String(error)).toBe(true);
    expect((error as { code: string }).code).toBe(code);
    return;
  }
  throw new Error(`expected ${code}, got success`);
}

describe("canonical CBOR round trips", () => {
  it("decode(encode(v)) equals v, and encoding is deterministic (property)", () => {
    fc.assert(
      fc.property(cborValue, (value) => {
        const bytes = encodeCanonical(value, options);
        expect(decodeCanonical(bytes, options)).toEqual(value);
        expect(toHex(encodeCanonical(decodeCanonical(bytes, options), options))).toBe(toHex(bytes));
      }),
      { numRuns: 300 },
    );
  });

  it("map key order in memory does not change the bytes (property)", () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string({ maxLength: 6 }).filter((key) => key !== "__proto__"),
          fc.nat(),
        ),
        (map) => {
          const reversed = Object.fromEntries(Object.entries(map).reverse());
          expect(toHex(encodeCanonical(reversed, options))).toBe(toHex(encodeCanonical(map, options)));
        },
      ),
    );
  });

  it("sorts keys by encoded bytes (shorter first) and uses the shortest integers", () => {
    // {"a": 1, "bb": 24, "c": 256} sorts as "a", "c", "bb" (RFC 8949 core deterministic).
    expect(toHex(encodeCanonical({ bb: 24, c: 256, a: 1 }, options))).toBe("a361610161631901006262621818");
  });

  it("decoded byte strings are copies, not views of the input", () => {
    const bytes = encodeCanonical({ b: Uint8Array.of(1, 2, 3) }, options);
    const decoded = decodeCanonical(bytes, options) as { b: Uint8Array };
    bytes.fill(0);
    expect([...decoded.b]).toEqual([1, 2, 3]);
  });
});

describe("canonical CBOR rejections", () => {
  const nonCanonical: [string, string][] = [
    ["integer not in shortest form (1 as 0x18 0x01)", "1801"],
    ["integer 255 as two bytes", "1900ff"],
    ["map keys out of order", "a2616201616101"],
    ["map keys in text order, not encoded-byte order ('bb' before 'c')", "a361610162626218186163190100"],
    ["duplicate map key", "a2616101616102"],
    ["indefinite-length array", "9f01ff"],
    ["indefinite-length map", "bf616101ff"],
    ["indefinite-length byte string", "5f4101ff"],
    ["float", "f93c00"],
    ["float64", "fb3ff8000000000000"],
    ["negative integer", "20"],
    ["undefined", "f7"],
    ["tag", "c11a514b67b0"],
    ["non-string map key", "a10102"],
    ["invalid UTF-8 text", "62c328"],
    ["trailing bytes", "0102"],
    ["truncated input", "6261"],
    ["empty input", ""],
    ["big integer beyond 2^53", "1b0020000000000000"],
    ["simple value", "e0"],
  ];
  for (const [what, hex] of nonCanonical) {
    it(`rejects ${what}`, () => expectCode(() => decodeCanonical(fromHex(hex), options), "ENCODING_INVALID"));
  }

  it("refuses to encode values outside the model", () => {
    for (const value of [
      1.5,
      -1,
      -0,
      Number.NaN,
      2 ** 53,
      10n,
      undefined,
      { a: undefined },
      new Date(0),
      new Map(),
      "\ud800",
    ]) {
      expectCode(() => encodeCanonical(value, options), "ENCODING_INVALID");
    }
  });

  it("enforces the size limit both ways", () => {
    const value = new Uint8Array(100);
    expectCode(() => encodeCanonical(value, { bytesMax: 50 }), "ENCODING_TOO_LARGE");
    const bytes = encodeCanonical(value, options);
    expectCode(() => decodeCanonical(bytes, { bytesMax: 50 }), "ENCODING_TOO_LARGE");
  });

  it("enforces the depth limit both ways", () => {
    let deep: CborValue = 1;
    for (let level = 0; level <= encoding_depth_max; level++) deep = [deep];
    expectCode(() => encodeCanonical(deep, options), "ENCODING_INVALID");
    const bytes = new Uint8Array(encoding_depth_max + 2).fill(0x81);
    bytes[bytes.length - 1] = 0x01;
    expectCode(() => decodeCanonical(bytes, options), "ENCODING_INVALID");
    // Far deeper than the stack: still a typed error.
    const abyss = new Uint8Array(200_000).fill(0x81);
    abyss[abyss.length - 1] = 0x01;
    expectCode(() => decodeCanonical(abyss, { bytesMax: 1 << 20 }), "ENCODING_INVALID");
  });

  it("random bytes give a value or ENCODING_INVALID, never anything else (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          const value = decodeCanonical(bytes, options);
          expect(toHex(encodeCanonical(value, options))).toBe(toHex(bytes));
        } catch (error) {
          expect(isProtocolError(error), String(error)).toBe(true);
          expect((error as { code: string }).code).toBe("ENCODING_INVALID");
        }
      }),
      { numRuns: 2000 },
    );
  });
});
