// Goal: the frame decoder returns exactly the frames encoded, however the bytes are split, and rejects
// hostile prefixes before it allocates. Method: fast-check properties over frames and split points.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeFrames, FrameDecoder } from "../src/index.js";

describe("framing", () => {
  it("decodes what it encodes, across any chunking", () => {
    const frames = fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 });
    const cuts = fc.array(fc.nat(), { maxLength: 10 });
    fc.assert(
      fc.property(frames, cuts, (input, cutPoints) => {
        const bytes = encodeFrames(input);
        const points = [...new Set(cutPoints.map((cut) => cut % (bytes.byteLength + 1)))].sort(
          (x, y) => x - y,
        );
        const decoder = new FrameDecoder(300);
        const output: Uint8Array[] = [];
        let start = 0;
        for (const end of [...points, bytes.byteLength]) {
          output.push(...decoder.push(bytes.subarray(start, end)));
          start = end;
        }
        expect(output).toEqual(input);
        expect(decoder.idle).toBe(true);
      }),
    );
  });

  it("rejects a frame over the limit, a prefix too long, and a non-minimal prefix", () => {
    expect(() => new FrameDecoder(127).push(Uint8Array.of(0x80, 0x01))).toThrowError(
      expect.objectContaining({ code: "FRAME_TOO_LARGE" }),
    );
    expect(() => new FrameDecoder(2 ** 27).push(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x01))).toThrowError(
      expect.objectContaining({ code: "FRAME_MALFORMED" }),
    );
    expect(() => new FrameDecoder(100).push(Uint8Array.of(0x81, 0x00))).toThrowError(
      expect.objectContaining({ code: "FRAME_MALFORMED" }),
    );
  });
});
