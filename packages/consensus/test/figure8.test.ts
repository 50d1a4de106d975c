/**
 * Goal: show that the outcome checkers alone see the Figure 8 anomaly of the Raft paper (§5.4.2)
 * when a leader commits an earlier-term entry by counting replicas, and that the production Raft is
 * immune. Method: script the figure's sequence on a 3-node cluster, one delivery round at a time,
 * with one entry per message, and only the outcome checkers on.
 */
import { describe, expect, it } from "vitest";
import type { RaftFactory } from "../src/index.js";
import { createRaft } from "../src/index.js";
import type { Cluster } from "../src/sim/index.js";
import { plantedBugs } from "./fixtures/planted-bugs.js";
import { quietCluster, settle, snapshotStatus } from "./helpers.js";

function figure8(factory: RaftFactory, lines: string[]): Cluster {
  const cluster = quietCluster(lines, {
    raftFactory: factory,
    raft: { preVote: false, checkQuorum: false, maxSizePerMsg: 1 },
  });
  cluster.checker.ruleChecks = false;
  // (a) n1 leads term 1 and commits its empty entry everywhere.
  cluster.guard("n1", (raw) => raw.campaign());
  settle(cluster);
  // n1, cut off, appends x at index 2 in term 1: only n1 has it.
  cluster.isolate("n1");
  cluster.propose("n1", "x");
  settle(cluster);
  // (b) n3 wins term 2 with n2's vote, then is cut off before its entry 2@2 leaves.
  cluster.guard("n3", (raw) => raw.campaign());
  cluster.processAll();
  cluster.settle(2);
  cluster.isolate("n3");
  settle(cluster);
  snapshotStatus(cluster, lines, "n1 holds 2@1, n3 holds 2@2, n2 holds neither");
  // (c) n1 restarts (a follower again) and wins term 3 with n2's vote; it replicates 2@1 to n2, one
  // entry per message, and is cut off right after hearing n2 acknowledge it, before 3@3 reaches n2.
  cluster.heal();
  cluster.isolate("n3");
  cluster.crash("n1");
  cluster.restart("n1");
  for (let round = 0; round < 40 && cluster.node("n2").raft.log.termAt(2) !== 1; round++) {
    if (cluster.inFlight() === 0 && cluster.node("n1").raft.role !== "leader") {
      cluster.guard("n1", (raw) => raw.campaign());
      cluster.processAll();
    }
    cluster.settle(1);
  }
  cluster.settle(1);
  cluster.heal();
  cluster.isolate("n1");
  settle(cluster);
  snapshotStatus(cluster, lines, "n2 acknowledged 2@1 to n1 (term 3), which is now cut off");
  // (d) n3 restarts and, with a last term of 2 against n2's 1, wins n2's vote.
  cluster.crash("n3");
  cluster.restart("n3");
  for (let attempt = 0; attempt < 5 && cluster.node("n3").raft.role !== "leader"; attempt++) {
    cluster.guard("n3", (raw) => raw.campaign());
    settle(cluster);
  }
  snapshotStatus(cluster, lines, "n3 leads and overwrites index 2");
  return cluster;
}

describe("Figure 8 (§5.4.2), scripted", () => {
  it("committing 2@1 by counting replicas loses it once n3 leads: Leader Completeness fails", () => {
    const lines: string[] = [];
    const factory = plantedBugs["commits an earlier-term entry by counting replicas"] as RaftFactory;
    const cluster = figure8(factory, lines);
    expect(cluster.checker.violation?.invariant, lines.join("\n")).toBe("Leader Completeness §5.4");
  });

  it("the production Raft never commits 2@1 by counting, so n3 overwriting it is legal", () => {
    const lines: string[] = [];
    const cluster = figure8(createRaft, lines);
    expect(cluster.checker.violation, lines.join("\n")).toBeNull();
    expect(cluster.node("n3").raft.role).toBe("leader");
    expect(cluster.node("n2").raft.log.termAt(2)).toBe(2);
  });
});
