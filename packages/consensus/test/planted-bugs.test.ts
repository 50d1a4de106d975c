/**
 * Goal: show the checkers are not vacuous. Method: run the simulator with each planted bug (a Raft
 * subclass overriding one method, test/fixtures/planted-bugs.ts) over the first 50 seeds: each must
 * be caught within them; the production Raft passes the very same seeds.
 */
import { describe, expect, it } from "vitest";
import { formatViolation, runSeeds } from "../src/sim/index.js";
import { plantedBugs } from "./fixtures/planted-bugs.js";

/** Every planted bug must be caught within this many seeds. */
const seeds_bound = 50;

describe("planted bugs are caught", () => {
  it(`the production Raft passes seeds 1..${seeds_bound}`, () => {
    const report = runSeeds({ firstSeed: 1, count: seeds_bound });
    expect(report.failures.map(formatViolation)).toEqual([]);
  });

  for (const [name, factory] of Object.entries(plantedBugs)) {
    it(`${name}: caught within ${seeds_bound} seeds`, () => {
      const report = runSeeds({ firstSeed: 1, count: seeds_bound, raftFactory: factory, stopAtFirst: true });
      expect(report.violations).toBe(1);
      const failure = report.failures[0];
      expect(failure?.violation).not.toBeNull();
      // The report names the seed, the step and the invariant, and the seed replays to the same verdict.
      const again = runSeeds({ firstSeed: failure?.seed ?? 0, count: 1, raftFactory: factory });
      expect(again.failures.map(formatViolation)).toEqual([formatViolation(failure!)]);
    });
  }
});
