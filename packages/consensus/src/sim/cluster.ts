/**
 * A simulated cluster: the production RawNode of every node, driven as the real driver will drive it
 * (persist before sending acknowledgements), over a seeded faulty network and a disk that loses every
 * write not yet synced when a node crashes. All randomness comes from one Prng.
 */
import type { RaftConfig } from "../config.js";
import { isRaftError } from "../errors.js";
import { Prng } from "../prng.js";
import type { Raft } from "../raft.js";
import type { RaftFactory, Ready } from "../rawnode.js";
import { createRaft, RawNode } from "../rawnode.js";
import { bootstrapSnapshot, MemoryStorage } from "../storage.js";
import type { ConfState, Message, NodeId, ReadState } from "../types.js";
import { validateMessage } from "../validate.js";
import { Checker } from "./checker.js";
import { StateMachine } from "./state-machine.js";

/** Network and disk fault rates; all zero gives a perfect network and an immediate disk. */
export interface FaultRates {
  /** Probability that a message is lost. */
  loss: number;
  /** Probability that a message is delivered twice. */
  duplicate: number;
  /** Extra delivery delay is uniform in [0, delayMax] steps (so messages reorder). */
  delayMaxSteps: number;
  /** A persist completes after uniform [0, syncDelayMax] steps; a crash before that loses it. */
  syncDelayMaxSteps: number;
  /** Probability that a node misses a tick in a step (clocks that run at different rates). */
  clockSkew: number;
}

/** The options of a simulated cluster. */
export interface ClusterOptions {
  readonly seed: number;
  /** Every node that may ever run, in order. */
  readonly nodeIds: readonly NodeId[];
  /** The initial configuration (the others start as spares that may be added). */
  readonly confState: ConfState;
  /** Options of each node, without id and seed. */
  readonly raft: Omit<RaftConfig, "id" | "seed">;
  readonly faults: FaultRates;
  /** Take a snapshot and compact once this many applied entries follow the last snapshot. */
  readonly snapshotEveryEntries: number;
  readonly raftFactory?: RaftFactory;
  /** Run the safety checkers (default true; the benchmark turns them off to time the core). */
  readonly check?: boolean;
  /** Receives one line per event, for golden transcripts and replay. */
  readonly trace?: (line: string) => void;
}

/** Most Ready cycles one node runs in one step (the rest waits for the next step). */
const ready_rounds_per_step_max = 8;

interface Envelope {
  readonly deliverAt: number;
  readonly sequence: number;
  readonly message: Message;
}

/** One simulated machine: durable storage, the node (when up), its state machine, its disk queue. */
export class SimNode {
  readonly id: NodeId;
  readonly storage: MemoryStorage;
  node: RawNode | null = null;
  machine = new StateMachine();
  incarnation = 0;
  /** The Ready being persisted, and the step at which its sync completes. */
  pending: { ready: Ready; syncAt: number } | null = null;
  readStates: ReadState[] = [];

  constructor(id: NodeId, confState: ConfState) {
    this.id = id;
    this.storage = new MemoryStorage(bootstrapSnapshot(confState));
  }

  get raft(): Raft {
    if (this.node === null) throw new Error(`${this.id} is down`);
    return this.node.raft;
  }
}

/** The simulated cluster. */
export class Cluster {
  readonly nodes = new Map<NodeId, SimNode>();
  readonly checker = new Checker();
  readonly prng: Prng;
  readonly options: ClusterOptions;
  faults: FaultRates;
  /** Node options used at the next (re)start; a restart may change them, as an operator would. */
  raftOptions: Omit<RaftConfig, "id" | "seed">;
  now = 0;
  /** What the run exercised, to show that the checkers were not idle. */
  readonly stats = { crashes: 0, partitions: 0, messagesDelivered: 0, messagesDropped: 0, snapshotsSent: 0 };
  private queue: Envelope[] = [];
  private sequence = 0;
  private readonly blocked = new Set<string>();
  private readonly checking: boolean;

  constructor(options: ClusterOptions) {
    this.options = options;
    this.prng = new Prng(options.seed);
    this.faults = { ...options.faults };
    this.raftOptions = { ...options.raft };
    this.checking = options.check ?? true;
    for (const id of options.nodeIds) {
      const node = new SimNode(id, options.confState);
      this.nodes.set(id, node);
      this.start(node);
    }
  }

  node(id: NodeId): SimNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  /** The nodes that are up. */
  live(): SimNode[] {
    const result: SimNode[] = [];
    for (const node of this.nodes.values()) if (node.node !== null) result.push(node);
    return result;
  }

  /** The up node that leads the highest term, if any. */
  leader(): SimNode | null {
    let best: SimNode | null = null;
    for (const node of this.live()) {
      if (node.raft.role === "leader" && (best === null || node.raft.term > best.raft.term)) best = node;
    }
    return best;
  }

  /** Messages in flight (sent, not yet delivered or dropped). */
  inFlight(): number {
    return this.queue.length;
  }

  // ---- Faults -------------------------------------------------------------------------------------

  /** Cuts the link from `from` to `to` (one way). */
  block(from: NodeId, to: NodeId): void {
    this.blocked.add(from + ">" + to);
  }

  /** Cuts every link between the two groups, both ways. */
  partition(a: readonly NodeId[], b: readonly NodeId[]): void {
    for (const x of a) {
      for (const y of b) {
        this.block(x, y);
        this.block(y, x);
      }
    }
    this.stats.partitions++;
    this.trace(`partition ${a.join(",")} | ${b.join(",")}`);
  }

  /** Cuts a node off from every other node. */
  isolate(id: NodeId): void {
    const others = [...this.nodes.keys()].filter((other) => other !== id);
    this.partition([id], others);
  }

  heal(): void {
    this.blocked.clear();
    this.trace("heal");
  }

  /** Stops a node; whatever its disk had not synced is lost, with the messages waiting for it. */
  crash(id: NodeId): void {
    const node = this.node(id);
    if (node.node === null) return;
    node.node = null;
    node.pending = null;
    node.readStates = [];
    this.stats.crashes++;
    this.trace(`crash ${id}`);
  }

  /** Starts a crashed node again from its durable storage. */
  restart(id: NodeId): void {
    const node = this.node(id);
    if (node.node !== null) return;
    this.start(node);
    this.trace(`restart ${id}`);
  }

  // ---- Client operations ------------------------------------------------------------------------------

  /** Proposes data on a node; returns the index or the error code. */
  propose(id: NodeId, data: string): number | string {
    return this.guard(id, (raw) => raw.propose(new TextEncoder().encode(data)).index);
  }

  // ---- Time -------------------------------------------------------------------------------------------

  /** One step: deliver due messages, tick every node, run every node's Ready loop, check. */
  step(): void {
    this.now++;
    this.checker.step = this.now;
    this.deliverDue();
    for (const node of this.live()) {
      if (this.faults.clockSkew > 0 && this.prng.chance(this.faults.clockSkew)) continue;
      this.guard(node.id, (raw) => raw.tick());
    }
    this.processAll();
    if (this.checking) this.checker.afterStep(this.live().map((node) => node.raft));
  }

  /** Runs the Ready loops without ticking or delivering (after a client operation). */
  processAll(): void {
    for (const node of this.live()) this.processReady(node);
  }

  /** Delivers every queued message now, repeatedly, without ticking (for transcripts). */
  settle(roundsMax: number): void {
    for (let round = 0; round < roundsMax && this.queue.length > 0; round++) {
      const due = this.queue;
      this.queue = [];
      for (const envelope of due) this.deliver(envelope.message);
      this.processAll();
      if (this.checking) this.checker.afterStep(this.live().map((node) => node.raft));
    }
  }

  private deliverDue(): void {
    if (this.queue.length === 0) return;
    const due: Envelope[] = [];
    const later: Envelope[] = [];
    for (const envelope of this.queue) (envelope.deliverAt <= this.now ? due : later).push(envelope);
    this.queue = later;
    due.sort((a, b) => a.deliverAt - b.deliverAt || a.sequence - b.sequence);
    for (const envelope of due) this.deliver(envelope.message);
  }

  private deliver(m: Message): void {
    const target = this.nodes.get(m.to);
    if (target === undefined) return;
    if (target.node === null || this.blocked.has(m.from + ">" + m.to)) {
      this.stats.messagesDropped++;
      if (this.options.trace !== undefined) {
        this.trace(`${m.from}->${m.to} ${describe(m)} (${target.node === null ? "down" : "blocked"})`);
      }
      return;
    }
    this.stats.messagesDelivered++;
    if (m.type === "snap") this.stats.snapshotsSent++;
    if (this.options.trace !== undefined) this.trace(`${m.from}->${m.to} ${describe(m)}`);
    this.guard(m.to, (raw) => raw.step(m));
  }

  private send(m: Message): void {
    if (this.checking) {
      // Messages are shared by reference between simulated nodes: freezing them makes any mutation
      // by the core (which a real network would hide) throw at once.
      Object.freeze(m);
      Object.freeze(m.entries);
      this.checker.onSend(m, this.node(m.from).storage);
      // What the core sends must pass the driver's validation of what it receives.
      try {
        validateMessage(m);
      } catch (error) {
        this.checker.fail("Message validation", `${m.from}->${m.to} ${describe(m)}: ${String(error)}`);
      }
    }
    const faults = this.faults;
    if (faults.loss > 0 && this.prng.chance(faults.loss)) {
      this.stats.messagesDropped++;
      return;
    }
    const copies = faults.duplicate > 0 && this.prng.chance(faults.duplicate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const delay = faults.delayMaxSteps > 0 ? this.prng.int(0, faults.delayMaxSteps + 1) : 0;
      this.queue.push({ deliverAt: this.now + 1 + delay, sequence: this.sequence++, message: m });
    }
  }

  // ---- The driver: Ready, persist, send, apply, advance ----------------------------------------------

  private processReady(node: SimNode): void {
    for (let round = 0; round < ready_rounds_per_step_max && node.node !== null; round++) {
      if (node.pending !== null) {
        if (node.pending.syncAt > this.now) return;
        this.completeSync(node);
        continue;
      }
      const raw = node.node;
      if (!raw.hasReady()) return;
      const ready = this.guard(node.id, (r) => r.ready());
      if (typeof ready === "string") return;
      if (this.checking) this.checker.onPersist(raw.raft, node.storage, ready.entries);
      for (const m of ready.messages) this.send(m);
      const delay =
        this.faults.syncDelayMaxSteps > 0 ? this.prng.int(0, this.faults.syncDelayMaxSteps + 1) : 0;
      node.pending = { ready, syncAt: this.now + delay };
    }
  }

  /** The disk synced: the Ready is durable; release acknowledgements, apply, advance. */
  private completeSync(node: SimNode): void {
    const pending = node.pending;
    const raw = node.node;
    if (pending === null || raw === null) return;
    node.pending = null;
    const { ready } = pending;
    const storage = node.storage;
    if (ready.snapshot !== null) storage.applySnapshot(ready.snapshot);
    storage.append(ready.entries);
    if (ready.hardState !== null) storage.setHardState(ready.hardState);
    for (const m of ready.messagesAfterPersist) this.send(m);
    if (ready.snapshot !== null) {
      node.machine = StateMachine.decode(ready.snapshot.data);
      if (this.checking) this.checker.onSnapshotApplied(node.id, ready.snapshot);
    }
    for (const entry of ready.committedEntries) {
      if (entry.index <= node.machine.appliedIndex) continue;
      node.machine.apply(entry);
      if (this.checking) this.checker.onApply(raw.raft, entry, node.machine);
    }
    for (const state of ready.readStates) node.readStates.push(state);
    this.guard(node.id, (r) => r.advance());
    this.maybeSnapshot(node);
  }

  private maybeSnapshot(node: SimNode): void {
    const applied = node.machine.appliedIndex;
    if (node.node === null || applied - (node.storage.firstIndex() - 1) < this.options.snapshotEveryEntries)
      return;
    if (applied < node.node.raft.log.firstIndex() - 1) return; // a newer snapshot is on its way
    const confState = node.node.confStateAt(applied);
    node.storage.createSnapshot(applied, confState, node.machine.encode());
  }

  private start(node: SimNode): void {
    node.incarnation++;
    const config: RaftConfig = {
      ...this.raftOptions,
      id: node.id,
      seed: (this.options.seed * 31 + node.incarnation * 1009 + hashId(node.id)) % 0x1f_ffff_ffff_ffff,
    };
    node.machine = StateMachine.decode(node.storage.snapshot().data);
    const factory = this.options.raftFactory ?? createRaft;
    try {
      node.node = new RawNode({ config, storage: node.storage, raftFactory: factory });
    } catch (error) {
      this.checker.fail("Core assertion", `${node.id} restart: ${String(error)}`);
    }
  }

  /** Runs an operation on a node; core assertion failures become violations, other errors codes. */
  guard<T>(id: NodeId, operation: (raw: RawNode) => T): T | string {
    const raw = this.node(id).node;
    if (raw === null) return "DOWN";
    try {
      return operation(raw);
    } catch (error) {
      if (isRaftError(error, "INVARIANT") || !(error instanceof Error) || !("code" in error)) {
        this.checker.fail("Core assertion", `${id}: ${String(error)}`);
        this.crash(id);
        return "INVARIANT";
      }
      return String((error as { code: unknown }).code);
    }
  }

  trace(line: string): void {
    this.options.trace?.(`[${this.now}] ${line}`);
  }
}

/** One line describing a message, for traces and golden transcripts. */
export function describe(m: Message): string {
  let text = `${m.type} t${m.term}`;
  if (m.type === "app") text += ` prev=${m.index}@${m.logTerm} n=${m.entries.length} commit=${m.commit}`;
  else if (m.type === "appResp")
    text += m.reject ? ` reject=${m.index} hint=${m.rejectHint}` : ` index=${m.index}`;
  else if (m.type === "vote" || m.type === "preVote")
    text += ` last=${m.index}@${m.logTerm}${m.transfer ? " transfer" : ""}`;
  else if (m.type === "voteResp" || m.type === "preVoteResp") text += m.reject ? " reject" : " grant";
  else if (m.type === "heartbeat") text += ` commit=${m.commit}`;
  else if (m.type === "snap" && m.snapshot !== null)
    text += ` snapshot=${m.snapshot.metadata.index}@${m.snapshot.metadata.term}`;
  else if (m.type === "readIndexResp") text += ` index=${m.index}`;
  if (m.context !== "") text += ` ctx=${m.context}`;
  return text;
}

function hashId(id: string): number {
  let hash = 0;
  for (let i = 0; i < id.length; i++) hash = (hash * 31 + id.charCodeAt(i)) >>> 0;
  return hash;
}
