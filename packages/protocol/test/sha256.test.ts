// Goal: a faster sha256 may be installed only when it agrees with the pure-JS one. Method: install
// node:crypto's and compare random inputs; a wrong implementation is refused and the old one kept.
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { installSha256, sha256, toHex } from "../src/bytes.js";
import { nodeSha256, useNodeCrypto } from "../src/node.js";

afterAll(() => installSha256(nobleSha256));

describe("sha256 implementations", () => {
  it("node:crypto's agrees with noble's (property) and returns plain Uint8Arrays", () => {
    useNodeCrypto();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        expect(toHex(sha256(bytes))).toBe(toHex(nobleSha256(bytes)));
      }),
      { numRuns: 300 },
    );
    expect(Object.getPrototypeOf(nodeSha256(new Uint8Array(3)))).toBe(Uint8Array.prototype);
  });

  it("refuses an implementation that gives other answers, keeping the current one", () => {
    installSha256(nobleSha256);
    expect(() => installSha256((bytes) => nobleSha256(Uint8Array.of(...bytes, 0)))).toThrow(/wrong answers/);
    expect(() => installSha256(() => new Uint8Array(32))).toThrow(/wrong answers/);
    expect(toHex(sha256(new Uint8Array(0)))).toBe(
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
  });
});
