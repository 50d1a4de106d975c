/**
 * One seeded simulation: a cluster shape and fault mix drawn from the seed, a safety phase with
 * faults, random proposals and membership changes, then a liveness phase on a healed network that
 * must commit every acknowledged proposal and leave every member with the same applied history.
 */
import { Prng } from "../prng.js";
import type { RaftFactory } from "../rawnode.js";
import type { ConfChange, NodeId } from "../types.js";
import type { Violation } from "./checker.js";
import type { FaultRates } from "./cluster.js";
import { Cluster } from "./cluster.js";

/** Steps of the safety phase (faults on). */
export const safety_steps = 500;
/** Most steps of the liveness phase before a stall counts as a violation. */
export const liveness_steps_max = 600;

/** The outcome of one seed. */
export interface SeedResult {
  readonly seed: number;
  readonly violation: Violation | null;
  /** Proposals acknowledged to clients (applied somewhere). */
  readonly acknowledged: number;
  /** Entries committed at the end. */
  readonly committed: number;
  readonly steps: number;
  readonly summary: string;
  /** What the seed exercised. */
  readonly stats: SeedStats;
}

/** Counts of what one seed exercised. */
export interface SeedStats {
  readonly leaderTerms: number;
  readonly crashes: number;
  readonly partitions: number;
  readonly snapshotsSent: number;
  readonly confChanges: number;
  /** Conf changes that removed the node proposing them (the leader). */
  readonly leaderRemovals: number;
  /** ReadIndex requests answered (and checked). */
  readonly readsAnswered: number;
  /** Leader transfers requested. */
  readonly transfers: number;
  readonly messagesDelivered: number;
  readonly messagesDropped: number;
}

/** Options of one simulation run. */
export interface SimulateOptions {
  readonly raftFactory?: RaftFactory;
  /** Check only outcomes, not the commitment and persist-before-acknowledge rules (default false). */
  readonly outcomesOnly?: boolean;
  readonly trace?: (line: string) => void;
}

/** The cluster shape and fault mix of a seed. */
export interface Scenario {
  readonly nodeIds: readonly NodeId[];
  readonly voters: readonly NodeId[];
  readonly faults: FaultRates;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly heartbeatTicks: number;
  readonly maxSizePerMsg: number;
  readonly maxInflightMsgs: number;
  readonly snapshotEveryEntries: number;
  readonly crashChance: number;
  readonly partitionChance: number;
}

/** Draws the scenario of a seed. */
export function scenarioOf(prng: Prng): Scenario {
  const nodeCount = prng.int(3, 8);
  const nodeIds = Array.from({ length: nodeCount }, (_, i) => `n${i + 1}`);
  const voterCount = Math.max(3, nodeCount - prng.int(0, 3));
  return {
    nodeIds,
    voters: nodeIds.slice(0, voterCount),
    faults: {
      loss: prng.chance(0.2) ? 0 : prng.float() * 0.3,
      duplicate: prng.chance(0.5) ? 0 : prng.float() * 0.1,
      delayMaxSteps: prng.pick([0, 1, 2, 3, 10, 30]),
      syncDelayMaxSteps: prng.pick([0, 1, 2, 5]),
      clockSkew: prng.chance(0.5) ? 0 : prng.float() * 0.5,
    },
    preVote: prng.chance(0.8),
    checkQuorum: prng.chance(0.8),
    heartbeatTicks: prng.int(1, 4),
    maxSizePerMsg: prng.pick([1, 200, 64 * 1024]),
    maxInflightMsgs: prng.pick([1, 4, 256]),
    snapshotEveryEntries: prng.pick([3, 10, 50]),
    crashChance: prng.pick([0.005, 0.02, 0.05]),
    partitionChance: prng.pick([0.005, 0.02, 0.05]),
  };
}

/** Runs one seed to its end or its first violation. */
export function simulate(seed: number, options: SimulateOptions = {}): SeedResult {
  const prng = new Prng(seed);
  const scenario = scenarioOf(prng);
  const cluster = new Cluster({
    seed: prng.uint32(),
    nodeIds: scenario.nodeIds,
    confState: { voters: scenario.voters, learners: [] },
    raft: {
      electionTicks: 10,
      heartbeatTicks: scenario.heartbeatTicks,
      preVote: scenario.preVote,
      checkQuorum: scenario.checkQuorum,
      maxInflightMsgs: scenario.maxInflightMsgs,
      maxInflightBytes: 64 * 1024,
      maxSizePerMsg: scenario.maxSizePerMsg,
      maxUncommittedEntriesBytes: 1024 * 1024,
    },
    faults: scenario.faults,
    snapshotEveryEntries: scenario.snapshotEveryEntries,
    ...(options.raftFactory === undefined ? {} : { raftFactory: options.raftFactory }),
    ...(options.trace === undefined ? {} : { trace: options.trace }),
  });
  cluster.checker.ruleChecks = options.outcomesOnly !== true;
  const run = new Run(cluster, prng, scenario);
  run.safetyPhase();
  if (cluster.checker.violation === null) run.livenessPhase();
  const leader = cluster.leader();
  return {
    seed,
    violation: cluster.checker.violation,
    acknowledged: run.acknowledged.size,
    committed: leader === null ? 0 : leader.raft.log.committed,
    steps: cluster.now,
    stats: {
      ...cluster.stats,
      leaderTerms: cluster.checker.leaderTerms(),
      confChanges: run.confChanges,
      leaderRemovals: run.leaderRemovals,
      readsAnswered: run.readsAnswered,
      transfers: run.transfers,
    },
    summary: `nodes=${scenario.nodeIds.length} voters=${scenario.voters.length} loss=${scenario.faults.loss.toFixed(2)} preVote=${scenario.preVote} checkQuorum=${scenario.checkQuorum}`,
  };
}

/** The state of one run: proposals in flight and acknowledged, retired nodes, pending reads. */
class Run {
  readonly acknowledged = new Set<string>();
  confChanges = 0;
  leaderRemovals = 0;
  readsAnswered = 0;
  transfers = 0;
  private proposalCount = 0;
  /** Nodes removed from the configuration; never added again. */
  private readonly retired = new Set<NodeId>();
  /** For each pending read: the highest acknowledged index when it was asked. */
  private readonly reads = new Map<string, number>();
  private acknowledgedIndexMax = 0;
  private readonly appliedSeen = new Map<NodeId, number>();

  constructor(
    private readonly cluster: Cluster,
    private readonly prng: Prng,
    private readonly scenario: Scenario,
  ) {}

  safetyPhase(): void {
    for (let step = 0; step < safety_steps && this.cluster.checker.violation === null; step++) {
      this.injectFaults();
      this.clientActions();
      this.cluster.step();
      this.observe();
    }
  }

  livenessPhase(): void {
    const cluster = this.cluster;
    cluster.heal();
    cluster.faults = { loss: 0, duplicate: 0, delayMaxSteps: 1, syncDelayMaxSteps: 1, clockSkew: 0 };
    if (!cluster.raftOptions.preVote) {
      // Without PreVote a node holding an uncommitted configuration that leaves out the only viable
      // candidate can out-campaign it forever (seed 2853). Raft's answer is PreVote (thesis §9.6):
      // restart every node with it, as an operator would.
      cluster.raftOptions = { ...cluster.raftOptions, preVote: true };
      for (const id of cluster.nodes.keys()) cluster.crash(id);
    }
    for (let step = 0; step < liveness_steps_max && cluster.checker.violation === null; step++) {
      this.keepMembersUp();
      if (step % 20 === 0) this.propose();
      cluster.step();
      this.observe();
      if (step > 20 && this.converged()) return;
    }
    if (cluster.checker.violation === null) this.reportStall();
  }

  /** Liveness: members run; nodes removed from the configuration are shut down by the operator. */
  private keepMembersUp(): void {
    const leader = this.cluster.leader();
    const conf = leader === null ? null : leader.raft.confState();
    for (const id of this.cluster.nodes.keys()) {
      const member = conf === null || conf.voters.includes(id) || conf.learners.includes(id);
      if (member || !this.retired.has(id)) this.cluster.restart(id);
      else this.cluster.crash(id);
    }
  }

  private injectFaults(): void {
    const { cluster, prng, scenario } = this;
    if (prng.chance(scenario.partitionChance)) this.partition();
    if (prng.chance(0.03)) cluster.heal();
    if (prng.chance(scenario.crashChance)) {
      const live = cluster.live();
      const leader = cluster.leader();
      const victim = leader !== null && prng.chance(0.5) ? leader : live.length > 0 ? prng.pick(live) : null;
      if (victim !== null) cluster.crash(victim.id);
    }
    for (const node of cluster.nodes.values()) {
      if (node.node === null && !this.retired.has(node.id) && prng.chance(0.1)) cluster.restart(node.id);
    }
  }

  private partition(): void {
    const { cluster, prng } = this;
    const ids = [...cluster.nodes.keys()];
    const kind = prng.int(0, 3);
    if (kind === 0) {
      const a = ids.filter(() => prng.chance(0.5));
      const b = ids.filter((id) => !a.includes(id));
      if (a.length > 0 && b.length > 0) cluster.partition(a, b);
    } else if (kind === 1) {
      const from = prng.pick(ids);
      const to = prng.pick(ids);
      if (from !== to) {
        cluster.block(from, to);
        cluster.trace(`block ${from}>${to}`);
      }
    } else {
      const leader = cluster.leader();
      if (leader !== null) cluster.isolate(leader.id);
    }
  }

  private clientActions(): void {
    const { prng } = this;
    if (prng.chance(0.3)) this.propose();
    if (prng.chance(0.02)) this.changeMembership();
    if (prng.chance(0.005)) this.transferLeadership();
    if (prng.chance(0.03)) this.readIndex();
  }

  private propose(): void {
    const leader = this.cluster.leader();
    if (leader === null) return;
    const id = `p${++this.proposalCount}`;
    this.cluster.propose(leader.id, id);
    this.cluster.processAll();
  }

  private changeMembership(): void {
    const { cluster, prng } = this;
    const leader = cluster.leader();
    if (leader === null) return;
    const conf = leader.raft.confState();
    const members = new Set([...conf.voters, ...conf.learners]);
    const spares = [...cluster.nodes.keys()].filter((id) => !members.has(id) && !this.retired.has(id));
    const options: ConfChange[] = [];
    for (const id of spares)
      options.push({ type: "addLearner", nodeId: id }, { type: "addVoter", nodeId: id });
    for (const id of conf.learners)
      options.push({ type: "addVoter", nodeId: id }, { type: "removeNode", nodeId: id });
    if (conf.voters.length > 2) {
      for (const id of conf.voters)
        options.push({ type: "removeNode", nodeId: id }, { type: "addLearner", nodeId: id });
    }
    if (options.length === 0) return;
    const change = prng.pick(options);
    const result = cluster.guard(leader.id, (raw) => raw.proposeConfChange(change));
    if (typeof result !== "string") {
      cluster.trace(`${leader.id} proposes ${change.type} ${change.nodeId} at ${result.index}`);
      this.confChanges++;
      if (change.type === "removeNode" && change.nodeId === leader.id) this.leaderRemovals++;
      if (change.type === "removeNode") this.retired.add(change.nodeId);
    }
    cluster.processAll();
  }

  private transferLeadership(): void {
    const leader = this.cluster.leader();
    if (leader === null) return;
    const voters = leader.raft.confState().voters.filter((id) => id !== leader.id);
    if (voters.length === 0) return;
    const target = this.prng.pick(voters);
    this.cluster.guard(leader.id, (raw) => raw.transferLeader(target));
    this.transfers++;
    this.cluster.trace(`${leader.id} transfers leadership to ${target}`);
    this.cluster.processAll();
  }

  private readIndex(): void {
    const live = this.cluster.live();
    if (live.length === 0) return;
    const node = this.prng.pick(live);
    const context = `r${this.reads.size + 1}`;
    this.reads.set(context, this.acknowledgedIndexMax);
    this.cluster.guard(node.id, (raw) => raw.readIndex(context));
    this.cluster.processAll();
  }

  /** Acknowledges proposals that some node applied, and checks ReadIndex answers. */
  private observe(): void {
    for (const node of this.cluster.live()) {
      const ids = node.machine.ids;
      const seen = Math.min(this.appliedSeen.get(node.id) ?? 0, ids.length);
      for (let i = seen; i < ids.length; i++) this.acknowledged.add(ids[i] as string);
      this.appliedSeen.set(node.id, ids.length);
      this.acknowledgedIndexMax = Math.max(this.acknowledgedIndexMax, node.machine.appliedIndex);
      for (const state of node.readStates) this.checkRead(node.id, state.index, state.context);
      node.readStates = [];
    }
  }

  /** Linearizable reads (thesis §6.4): the read index covers every write acknowledged before the read. */
  private checkRead(nodeId: NodeId, index: number, context: string): void {
    const floor = this.reads.get(context);
    this.readsAnswered++;
    if (floor !== undefined && index < floor) {
      this.cluster.checker.fail(
        "ReadIndex linearizability §6.4",
        `${nodeId}: read ${context} at ${index} < ${floor}`,
      );
    }
  }

  /** Every member has applied everything the leader committed, with the same history, and all acks. */
  private converged(): boolean {
    const leader = this.cluster.leader();
    if (leader === null) return false;
    const raft = leader.raft;
    if (raft.log.committed !== raft.log.lastIndex() || raft.log.termAt(raft.log.committed) !== raft.term)
      return false;
    const conf = raft.confState();
    const target = raft.log.committed;
    for (const id of [...conf.voters, ...conf.learners]) {
      const node = this.cluster.node(id);
      if (node.node === null || node.machine.appliedIndex !== target) return false;
    }
    const hash = leader.machine.hash;
    const ids = new Set(leader.machine.ids);
    for (const id of [...conf.voters, ...conf.learners]) {
      if (this.cluster.node(id).machine.hash !== hash) {
        this.cluster.checker.fail(
          "Identical applied sequence",
          `${id} differs from leader ${leader.id} at ${target}`,
        );
        return true;
      }
    }
    for (const id of this.acknowledged) {
      if (!ids.has(id)) {
        this.cluster.checker.fail("Acknowledged proposal lost", `${id} is not in the final state`);
        return true;
      }
    }
    return true;
  }

  private reportStall(): void {
    const leader = this.cluster.leader();
    const detail =
      leader === null
        ? "no leader after healing"
        : `leader ${leader.id} t${leader.raft.term} commit=${leader.raft.log.committed} last=${leader.raft.log.lastIndex()}`;
    this.cluster.checker.fail("Liveness after heal", detail);
  }
}
