/**
 * Goal: the production Raft keeps every safety property under faults and converges after healing.
 * Method: run the deterministic simulator over 1,000 seeds (CI), check that the run was not idle
 * (elections, crashes, partitions, snapshots and membership changes all happened), and that a seed
 * replays exactly.
 */
import { describe, expect, it } from "vitest";
import { formatViolation, runCommand, runDemo, runSeeds, simulate } from "../src/sim/index.js";

describe("simulator", () => {
  // CI runs 1,000 seeds; MEDLEDGER_SIM_SEEDS raises the count (the coverage floors hold for any count).
  const seeds = Math.max(1000, Number(process.env.MEDLEDGER_SIM_SEEDS ?? 1000));
  it(`${seeds.toLocaleString("en")} seeds run with 0 violations`, () => {
    const report = runSeeds({ firstSeed: 1, count: seeds });
    expect(report.failures.map(formatViolation)).toEqual([]);
    expect(report.violations).toBe(0);
    // Not idle: every kind of fault and every hard path was exercised many times.
    expect(report.acknowledged).toBeGreaterThan(20_000);
    expect(report.stats.leaderTerms).toBeGreaterThan(2_000);
    expect(report.stats.crashes).toBeGreaterThan(2_000);
    expect(report.stats.partitions).toBeGreaterThan(1_000);
    expect(report.stats.snapshotsSent).toBeGreaterThan(500);
    expect(report.stats.confChanges).toBeGreaterThan(500);
    expect(report.stats.leaderRemovals).toBeGreaterThan(50);
    expect(report.stats.readsAnswered).toBeGreaterThan(1_000);
    expect(report.stats.transfers).toBeGreaterThan(100);
    expect(report.stats.messagesDropped).toBeGreaterThan(50_000);
  });

  it("replays a seed exactly: the same trace, step by step", () => {
    const first: string[] = [];
    const second: string[] = [];
    const a = simulate(4242, { trace: (line) => first.push(line) });
    const b = simulate(4242, { trace: (line) => second.push(line) });
    expect(first.length).toBeGreaterThan(100);
    expect(second).toEqual(first);
    expect(b).toEqual(a);
  });

  it("draws 3 to 7 nodes per seed", () => {
    const sizes = new Set<number>();
    for (let seed = 1; seed <= 200; seed++) {
      const lines: string[] = [];
      simulate(seed, { trace: (line) => lines.push(line) });
      const nodes = new Set(lines.flatMap((line) => [...line.matchAll(/\bn(\d)\b/g)].map((m) => m[1])));
      sizes.add(nodes.size);
    }
    expect([...sizes].sort()).toEqual([3, 4, 5, 6, 7]);
  });

  it("the command replays --seed S with identical output, and ends with the verdict line", () => {
    const run = (argv: string[]): { lines: string[]; code: number } => {
      const lines: string[] = [];
      const code = runCommand(argv, (line) => lines.push(line));
      return { lines, code };
    };
    const first = run(["--seed", "77", "--trace"]);
    const second = run(["--seed", "77", "--trace"]);
    expect(second).toEqual(first);
    expect(first.code).toBe(0);
    expect(first.lines.at(-1)).toBe("1 seeds, 0 violations");
    const many = run(["--seeds", "20", "--first", "100"]);
    expect(many.lines.at(-1)).toBe("20 seeds, 0 violations");
    expect(many.code).toBe(0);
    expect(run(["--bogus"]).code).toBe(2);
  });

  it("the demo (root npm start) narrates a run with no violation", () => {
    const lines: string[] = [];
    runDemo((line) => lines.push(line));
    expect(lines).toContain("every safety check passed at every step");
    expect(lines.at(-1)).toMatch(/: 0 violations$/);
  });
});
