/**
 * Goal: pin down the exact message exchanges of the hard cases, so that any change in behaviour shows
 * up as a transcript diff to review. Method: drive a small cluster step by step on a perfect network
 * (no ticks unless the case needs time), record every delivered message and the nodes' states, and
 * compare with test/golden/<case>.txt. Regenerate with UPDATE_GOLDEN=1 and review the diff by hand.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { Cluster } from "../src/sim/index.js";
import { quietCluster, settle, snapshotStatus, tickNode } from "./helpers.js";

const goldenDirectory = join(dirname(fileURLToPath(import.meta.url)), "golden");

/** Runs a case that records into `lines`, then compares (or, with UPDATE_GOLDEN=1, writes) its transcript. */
function golden(name: string, body: (lines: string[]) => void): void {
  const lines: string[] = [];
  const path = join(goldenDirectory, `${name}.txt`);
  try {
    body(lines);
  } finally {
    if (process.env.UPDATE_GOLDEN === "1" || !existsSync(path)) {
      mkdirSync(goldenDirectory, { recursive: true });
      writeFileSync(path, lines.join("\n") + "\n");
    }
  }
  expect(lines.join("\n") + "\n").toBe(readFileSync(path, "utf8"));
}

function elect(cluster: Cluster, id: string): void {
  cluster.guard(id, (raw) => raw.campaign());
  settle(cluster);
}

function propose(cluster: Cluster, id: string, data: string): void {
  cluster.propose(id, data);
  settle(cluster);
}

describe("golden transcripts", () => {
  it("PreVote election: a pre-vote round at term+1 first, then the real vote (thesis §9.6)", () => {
    golden("prevote-election", (lines) => {
      const cluster = quietCluster(lines);
      elect(cluster, "n1");
      snapshotStatus(cluster, lines, "n1 leads term 1; its empty entry commits");
      expect(cluster.node("n1").raft.role).toBe("leader");
      expect(lines.some((line) => line.includes("n1->n2 preVote t1"))).toBe(true);
    });
  });

  it("CheckQuorum: a leader that hears from no quorum for a whole election timeout steps down (thesis §6.2)", () => {
    golden("checkquorum-step-down", (lines) => {
      const cluster = quietCluster(lines);
      elect(cluster, "n1");
      cluster.isolate("n1");
      // At tick 10 the round that began before the cut had answers: n1 keeps leading. The next round
      // (ticks 11..20) has none, so at tick 20 it steps down.
      tickNode(cluster, "n1", 19);
      snapshotStatus(cluster, lines, "after 19 ticks alone, n1 still leads");
      expect(cluster.node("n1").raft.role).toBe("leader");
      tickNode(cluster, "n1", 1);
      snapshotStatus(
        cluster,
        lines,
        "after 20 ticks, a whole election timeout without answers, n1 stepped down",
      );
      expect(cluster.node("n1").raft.role).toBe("follower");
    });
  });

  it("snapshot install: a follower behind the leader's compacted log receives a snapshot (§7)", () => {
    golden("snapshot-install", (lines) => {
      const cluster = quietCluster(lines, { snapshotEveryEntries: 3 });
      elect(cluster, "n1");
      cluster.crash("n3");
      for (let i = 1; i <= 6; i++) propose(cluster, "n1", `x${i}`);
      snapshotStatus(cluster, lines, "n1 and n2 compacted their logs while n3 was down");
      expect(cluster.node("n1").storage.firstIndex()).toBeGreaterThan(2);
      cluster.restart("n3");
      tickNode(cluster, "n1", 3);
      snapshotStatus(cluster, lines, "n3 installed the snapshot and caught up");
      expect(lines.some((line) => line.includes("n1->n3 snap"))).toBe(true);
      expect(cluster.node("n3").machine.ids).toEqual(cluster.node("n1").machine.ids);
    });
  });

  it("removing the leader: it commits its own removal, hands over with TimeoutNow, steps down (thesis §4.2.2)", () => {
    golden("remove-leader", (lines) => {
      const cluster = quietCluster(lines);
      elect(cluster, "n1");
      propose(cluster, "n1", "before");
      cluster.guard("n1", (raw) => raw.proposeConfChange({ type: "removeNode", nodeId: "n1" }));
      settle(cluster);
      snapshotStatus(cluster, lines, "n1 removed itself; n2 took over after TimeoutNow");
      expect(cluster.node("n1").raft.role).toBe("follower");
      const leader = cluster.leader();
      expect(leader?.id).toBe("n2");
      propose(cluster, "n2", "after");
      snapshotStatus(cluster, lines, "the two-voter cluster commits without n1");
      expect(cluster.node("n3").machine.ids).toEqual(["before", "after"]);
    });
  });

  it("membership change while partitioned: the majority adds a voter, the minority catches up after healing", () => {
    golden("membership-change-partitioned", (lines) => {
      const cluster = quietCluster(lines, {
        nodeIds: ["n1", "n2", "n3", "n4"],
        confState: { voters: ["n1", "n2", "n3"], learners: [] },
      });
      elect(cluster, "n1");
      cluster.partition(["n1", "n2", "n4"], ["n3"]);
      cluster.guard("n1", (raw) => raw.proposeConfChange({ type: "addVoter", nodeId: "n4" }));
      settle(cluster);
      propose(cluster, "n1", "during");
      snapshotStatus(cluster, lines, "n4 joined as a voter while n3 was cut off");
      expect(cluster.node("n1").raft.confState().voters).toEqual(["n1", "n2", "n3", "n4"]);
      cluster.heal();
      tickNode(cluster, "n1", 3);
      snapshotStatus(cluster, lines, "after healing, n3 has the change and the entry");
      expect(cluster.node("n3").raft.confState().voters).toEqual(["n1", "n2", "n3", "n4"]);
      expect(cluster.node("n3").machine.ids).toEqual(["during"]);
    });
  });
});
