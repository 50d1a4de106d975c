// Goal: hex is exact both ways and refuses anything but lowercase hex. Method: round trips of random
// bytes against Node's own hex, and every kind of bad input.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromHex, toHex } from "../src/bytes.js";
import { isProtocolError } from "../src/errors.js";

describe("hex", () => {
  it("round-trips random bytes and matches Buffer's lowercase hex (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const hex = toHex(bytes);
        expect(hex).toBe(Buffer.from(bytes).toString("hex"));
        expect([...fromHex(hex)]).toEqual([...bytes]);
      }),
      { numRuns: 500 },
    );
  });

  it("refuses uppercase, odd lengths, non-hex characters, non-strings and wrong lengths", () => {
    for (const bad of [
      "A0",
      "0",
      "0g",
      "zz",
      " 00",
      "00 ",
      "é0",
      "\u0100\u0100",
      12,
      null,
      undefined,
      ["00"],
    ]) {
      let error: unknown = null;
      try {
        fromHex(bad);
      } catch (caught) {
        error = caught;
      }
      expect(isProtocolError(error) && error.code === "FIELD_INVALID", String(bad)).toBe(true);
    }
    expect(() => fromHex("0000", { length: 1 })).toThrow(/1 bytes/);
    expect([...fromHex("", {})]).toEqual([]);
  });
});
