/**
 * Goal: measure the core alone: committed proposals per second of CPU, on the simulator with no
 * faults (perfect network, immediate disk) and its checkers off, so the figure is the cost of the
 * Raft code plus the simulated driver (in-memory storage and message queue). Method: a 3-node cluster with a leader; each iteration
 * proposes a batch and delivers until every node applied it. Benchmarks measure; they assert nothing.
 */
import { bench, describe } from "vitest";
import { Cluster } from "../src/sim/index.js";

function newCluster(nodes: number): Cluster {
  const nodeIds = Array.from({ length: nodes }, (_, i) => `n${i + 1}`);
  const cluster = new Cluster({
    seed: 1,
    nodeIds,
    confState: { voters: nodeIds, learners: [] },
    raft: {
      electionTicks: 10,
      heartbeatTicks: 1,
      preVote: true,
      checkQuorum: true,
      maxInflightMsgs: 256,
      maxInflightBytes: 16 << 20,
      maxSizePerMsg: 1 << 20,
      maxUncommittedEntriesBytes: 64 << 20,
    },
    faults: { loss: 0, duplicate: 0, delayMaxSteps: 0, syncDelayMaxSteps: 0, clockSkew: 0 },
    snapshotEveryEntries: 10_000,
    check: false,
  });
  cluster.guard("n1", (raw) => raw.campaign());
  cluster.processAll();
  cluster.settle(100);
  return cluster;
}

const payload = "x".repeat(100);
const totals = new Map<string, { proposals: number; cpuMicros: number }>();

function commitBatch(cluster: Cluster, label: string, batch: number): void {
  const start = process.cpuUsage();
  const leader = cluster.node("n1");
  const target = leader.raft.log.lastIndex() + batch;
  for (let i = 0; i < batch; i++) cluster.propose("n1", payload);
  cluster.processAll();
  cluster.settle(1000);
  for (const node of cluster.nodes.values()) {
    if (node.machine.appliedIndex < target) throw new Error(`${node.id} did not apply the batch`);
  }
  const used = process.cpuUsage(start);
  const total = totals.get(label) ?? { proposals: 0, cpuMicros: 0 };
  total.proposals += batch;
  total.cpuMicros += used.user + used.system;
  totals.set(label, total);
}

/** Measures committed proposals per second of CPU time (user + system) over `rounds` batches. */
function proposalsPerCpuSecond(nodes: number, batch: number, rounds: number): number {
  const cluster = newCluster(nodes);
  const label = `measure ${nodes}/${batch}`;
  for (let round = 0; round < rounds; round++) commitBatch(cluster, "warm-up", batch);
  for (let round = 0; round < rounds; round++) commitBatch(cluster, label, batch);
  const total = totals.get(label) ?? { proposals: 0, cpuMicros: 1 };
  return Math.round(total.proposals / (total.cpuMicros / 1e6));
}

// Vitest's table reports wall-clock hz; the CPU-time figure is measured here and shown in the names.
const cpu3 = proposalsPerCpuSecond(3, 100, 300);
const cpu5 = proposalsPerCpuSecond(5, 100, 200);
const cpu1 = proposalsPerCpuSecond(3, 1, 20_000);

describe("core throughput (simulator, no faults)", () => {
  const three = newCluster(3);
  const five = newCluster(5);
  const single = newCluster(3);
  bench(`3 nodes, batches of 100 (${cpu3} committed proposals per CPU-second)`, () => {
    commitBatch(three, "3 nodes, batch 100", 100);
  });
  bench(`5 nodes, batches of 100 (${cpu5} committed proposals per CPU-second)`, () => {
    commitBatch(five, "5 nodes, batch 100", 100);
  });
  bench(`3 nodes, one proposal at a time (${cpu1} committed proposals per CPU-second)`, () => {
    commitBatch(single, "3 nodes, batch 1", 1);
  });
});
