// Goal: under every nemesis in turn (leader kills, rolling restarts, minority and majority partitions,
// an isolated leader, a one-way partition, a paused leader, a flapping link, 10% loss) no acknowledged
// transaction is lost or duplicated and the nodes never diverge. Method: the chaos suite's 2-minute CI
// variant (test/chaos/run.ts): three real node processes, each in its own network namespace (or with
// process-level faults where namespaces are not allowed), a recording workload through the HTTP API,
// and the checker over every node's chain.db. `pnpm test:chaos --duration 10m --seed S` runs it longer.
import { describe, expect, it } from "vitest";
import { defaultNemeses, lastLine, runChaos } from "./chaos/run.js";

const duration_s = Number(process.env.MEDLEDGER_CHAOS_CI_S ?? 120);
const seed = Number(process.env.MEDLEDGER_CHAOS_SEED ?? 1);

describe("chaos (CI variant)", () => {
  it(
    "keeps every acknowledged transaction exactly once and the chains identical under each nemesis",
    async () => {
      const report = await runChaos({
        durationS: duration_s,
        seed,
        rate: 30,
        log: (line) => console.log(line),
      });
      console.log(JSON.stringify({ ...report, problems: report.problems.slice(0, 5) }, null, 1));
      console.log(lastLine(report));
      expect(report.problems, `seed ${seed}: ${report.report_path}`).toEqual([]);
      expect(report.lost_acked).toBe(0);
      expect(report.duplicated).toBe(0);
      expect(report.divergent_heights).toBe(0);
      expect(report.app_hash_mismatches).toBe(0);
      expect(report.replay_failures).toBe(0);
      expect(report.revoke_violations).toBe(0);
      expect(report.acked).toBeGreaterThan(0);
      expect(report.converged).toBe(true);
      expect(report.crashes).toEqual([]);
      expect(report.nemeses.map((nemesis) => nemesis.name)).toEqual(defaultNemeses());
    },
    (duration_s + 240) * 1000,
  );
});
