/**
 * A narrated run of a 3-node cluster (for `npm start` until the real node exists): election with
 * PreVote, replication, the leader's crash and a new election, catch-up of the restarted node by
 * snapshot, removal of the leader, then a burst of seeded simulations. Pure: lines go to `out`.
 */
import { Cluster } from "./cluster.js";
import { runSeeds } from "./run.js";

function status(cluster: Cluster): string {
  const parts: string[] = [];
  for (const node of cluster.nodes.values()) {
    if (node.node === null) {
      parts.push(`${node.id}:down`);
      continue;
    }
    const raft = node.raft;
    parts.push(`${node.id}:${raft.role}/t${raft.term}/commit=${raft.log.committed}`);
  }
  return parts.join("  ");
}

/** A leader that has committed an entry of its own term (so its commit index is the cluster's). */
function settledLeader(cluster: Cluster): boolean {
  const leader = cluster.leader();
  return leader !== null && leader.raft.log.termAt(leader.raft.log.committed) === leader.raft.term;
}

function runUntil(cluster: Cluster, done: () => boolean, stepsMax: number): number {
  for (let step = 1; step <= stepsMax; step++) {
    cluster.step();
    if (done()) return step;
  }
  return -1;
}

/** Runs the demo, writing one line per event to `out`. */
export function runDemo(out: (line: string) => void): void {
  const cluster = new Cluster({
    seed: 2026,
    nodeIds: ["hospital-a", "hospital-b", "hospital-c"],
    confState: { voters: ["hospital-a", "hospital-b", "hospital-c"], learners: [] },
    raft: {
      electionTicks: 10,
      heartbeatTicks: 2,
      preVote: true,
      checkQuorum: true,
      maxInflightMsgs: 64,
      maxInflightBytes: 1 << 20,
      maxSizePerMsg: 64 * 1024,
      maxUncommittedEntriesBytes: 1 << 20,
    },
    faults: { loss: 0.05, duplicate: 0.02, delayMaxSteps: 2, syncDelayMaxSteps: 1, clockSkew: 0 },
    snapshotEveryEntries: 5,
  });
  out("medledger consensus demo: three hospitals, a lossy network (5% loss), a disk that syncs late");
  let steps = runUntil(cluster, () => settledLeader(cluster), 200);
  out(`step ${cluster.now}: elected after ${steps} steps    ${status(cluster)}`);

  const first = cluster.leader();
  if (first === null) return;
  for (let i = 1; i <= 8; i++) cluster.propose(first.id, `consent-${i}`);
  cluster.processAll();
  steps = runUntil(cluster, () => first.machine.ids.length >= 8, 200);
  out(`step ${cluster.now}: 8 consent records committed and applied    ${status(cluster)}`);

  cluster.crash(first.id);
  out(`step ${cluster.now}: ${first.id} (the leader) crashes`);
  runUntil(cluster, () => settledLeader(cluster), 300);
  const second = cluster.leader();
  if (second === null) return;
  out(`step ${cluster.now}: ${second.id} leads term ${second.raft.term}    ${status(cluster)}`);
  for (let i = 9; i <= 14; i++) cluster.propose(second.id, `consent-${i}`);
  cluster.processAll();
  runUntil(cluster, () => second.machine.ids.length >= 14, 200);
  out(`step ${cluster.now}: 6 more committed without ${first.id}; logs compacted every 5 entries`);

  cluster.restart(first.id);
  runUntil(cluster, () => cluster.node(first.id).machine.ids.length >= 14, 300);
  out(
    `step ${cluster.now}: ${first.id} restarted and caught up (${cluster.stats.snapshotsSent} snapshot(s) sent)`,
  );

  cluster.guard(second.id, (raw) => raw.proposeConfChange({ type: "removeNode", nodeId: second.id }));
  cluster.processAll();
  runUntil(
    cluster,
    () => {
      const leader = cluster.leader();
      return leader !== null && leader.id !== second.id;
    },
    300,
  );
  out(`step ${cluster.now}: ${second.id} removed itself and handed over    ${status(cluster)}`);
  const verdict = cluster.checker.violation;
  out(
    verdict === null
      ? "every safety check passed at every step"
      : `VIOLATION: ${verdict.invariant}: ${verdict.detail}`,
  );

  const report = runSeeds({ firstSeed: 1, count: 200 });
  out(
    `then 200 seeded simulations with crashes, partitions and membership changes: ${report.violations} violations`,
  );
}
