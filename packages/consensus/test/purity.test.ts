/**
 * Goal: keep the core pure, so that the simulator runs exactly the code production runs. Method:
 * scan every source file (the two binaries excepted) for identifiers of I/O, clocks, timers and
 * ambient randomness; the binaries (sim/cli.ts, demo.ts) may use only process.argv, process.stdout
 * and process.exitCode.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const sourceDirectory = fileURLToPath(new URL("../src", import.meta.url));

function sourceFiles(directory: string): string[] {
  const files: string[] = [];
  for (const name of readdirSync(directory)) {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) files.push(...sourceFiles(path));
    else if (name.endsWith(".ts")) files.push(path);
  }
  return files;
}

const forbidden: readonly RegExp[] = [
  /from\s+["']node:/,
  /require\(/,
  /\bimport\(/,
  /\bprocess\./,
  /\bDate\b/,
  /\bperformance\b/,
  /Math\.random/,
  /\bsetTimeout\b/,
  /\bsetInterval\b/,
  /\bsetImmediate\b/,
  /\bqueueMicrotask\b/,
  /\bfetch\(/,
  /\bcrypto\b/,
  /\bconsole\./,
  /\bglobalThis\b/,
];

describe("purity of src/", () => {
  it("finds source files to check", () => {
    expect(sourceFiles(sourceDirectory).length).toBeGreaterThan(10);
  });

  for (const path of sourceFiles(sourceDirectory)) {
    const name = relative(sourceDirectory, path);
    it(`${name} uses no I/O, clock, timer or ambient randomness`, () => {
      const text = readFileSync(path, "utf8");
      if (name === join("sim", "cli.ts") || name === "demo.ts") {
        const uses = text.match(/\bprocess\.[a-zA-Z]+/g) ?? [];
        for (const use of uses) expect(["process.argv", "process.stdout", "process.exitCode"]).toContain(use);
        return;
      }
      for (const pattern of forbidden) expect(text, `${name} matches ${pattern}`).not.toMatch(pattern);
    });
  }
});
