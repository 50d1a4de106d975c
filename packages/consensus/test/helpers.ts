/**
 * Shared helpers for the consensus tests: a quiet deterministic cluster for transcripts, and single
 * Raft nodes over MemoryStorage for message-level unit tests.
 */
import type { RaftConfig } from "../src/index.js";
import { bootstrapSnapshot, MemoryStorage, Raft, raftConfig } from "../src/index.js";
import type { ClusterOptions } from "../src/sim/index.js";
import { Cluster } from "../src/sim/index.js";

/** A cluster with a perfect network and disk, tracing every delivered message into `lines`. */
export function quietCluster(
  lines: string[],
  overrides: Partial<Omit<ClusterOptions, "raft">> & { raft?: Partial<ClusterOptions["raft"]> } = {},
): Cluster {
  const nodeIds = overrides.nodeIds ?? ["n1", "n2", "n3"];
  return new Cluster({
    seed: 7,
    nodeIds,
    confState: overrides.confState ?? { voters: nodeIds, learners: [] },
    raft: {
      electionTicks: 10,
      heartbeatTicks: 3,
      preVote: true,
      checkQuorum: true,
      maxInflightMsgs: 64,
      maxInflightBytes: 1 << 20,
      maxSizePerMsg: 1 << 20,
      maxUncommittedEntriesBytes: 1 << 20,
      ...overrides.raft,
    },
    faults: { loss: 0, duplicate: 0, delayMaxSteps: 0, syncDelayMaxSteps: 0, clockSkew: 0 },
    snapshotEveryEntries: overrides.snapshotEveryEntries ?? 1000,
    ...(overrides.raftFactory === undefined ? {} : { raftFactory: overrides.raftFactory }),
    trace: (line) => lines.push(line),
  });
}

/** Delivers everything in flight until the network is quiet (no ticks). */
export function settle(cluster: Cluster): void {
  cluster.processAll();
  cluster.settle(50);
}

/** Ticks one node `count` times, delivering what follows each tick. */
export function tickNode(cluster: Cluster, id: string, count: number): void {
  for (let i = 0; i < count; i++) {
    cluster.guard(id, (raw) => raw.tick());
    settle(cluster);
  }
}

/** One line describing a node's state, for transcripts. */
export function statusLine(cluster: Cluster, id: string): string {
  const node = cluster.node(id);
  if (node.node === null) return `${id}: down`;
  const s = node.node.status();
  const conf = `voters=${s.confState.voters.join(",")}${s.confState.learners.length > 0 ? ` learners=${s.confState.learners.join(",")}` : ""}`;
  return `${id}: ${s.role} t${s.term} lead=${s.lead || "-"} last=${s.lastIndex} commit=${s.commit} applied=${node.machine.appliedIndex} ${conf}`;
}

/** Appends a status line for every node. */
export function snapshotStatus(cluster: Cluster, lines: string[], label: string): void {
  lines.push(`-- ${label}`);
  for (const id of cluster.nodes.keys()) lines.push(statusLine(cluster, id));
}

/** A single Raft node over fresh storage with the given voters. */
export function newRaft(id: string, voters: string[], overrides: Partial<RaftConfig> = {}): Raft {
  const storage = new MemoryStorage(bootstrapSnapshot({ voters, learners: [] }));
  return new Raft(raftConfig({ id, seed: 1, ...overrides }), storage);
}
