import { it } from "vitest";
import { runSeeds } from "../src/sim/index.js";
import { plantedBugs } from "./fixtures/planted-bugs.js";

it("explore", () => {
  const name = process.env.BUG ?? "";
  const factory = plantedBugs[name];
  if (factory === undefined) return;
  const firsts: string[] = [];
  const report = runSeeds({
    firstSeed: 1,
    count: Number(process.env.COUNT ?? 200),
    raftFactory: factory,
    onViolation: (l) => {
      if (firsts.length < 5) firsts.push(l);
    },
  });
  console.log(name, report.violations, "\n   " + firsts.join("\n   "));
}, 600_000);
