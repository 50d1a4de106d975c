// Goal: the committed test-vectors/ never drift from what the package computes.
// Method: regenerate every vector file in memory (scripts/generate-vectors.ts, deterministic) and
// compare it byte for byte with the committed file. UPDATE_VECTORS=1 rewrites the files instead:
//   UPDATE_VECTORS=1 npx vitest run packages/protocol/test/vectors.test.ts
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { generateVectors } from "../scripts/generate-vectors.js";

const VECTORS_DIRECTORY = fileURLToPath(new URL("../../../test-vectors/", import.meta.url));
const update = process.env.UPDATE_VECTORS === "1";
const files = generateVectors();

describe("test-vectors/", () => {
  if (update) {
    it("rewrites the vector files", () => {
      for (const [name, text] of Object.entries(files)) writeFileSync(`${VECTORS_DIRECTORY}${name}`, text);
    });
    return;
  }

  for (const [name, text] of Object.entries(files)) {
    it(`${name} equals its regeneration byte for byte`, () => {
      expect(readFileSync(`${VECTORS_DIRECTORY}${name}`, "utf8")).toBe(text);
    });
  }

  it("holds no JSON file the generator does not make", () => {
    const committed = readdirSync(VECTORS_DIRECTORY).filter((name) => name.endsWith(".json"));
    expect(committed.sort()).toEqual(Object.keys(files).sort());
  });

  it("generation is deterministic", () => {
    expect(generateVectors()).toEqual(files);
  });
});
