/**
 * The ledger node: the driver that runs the consensus core over a transport and a store. It ticks the
 * core on an injectable clock, steps validated peer messages into it, honours each Ready (send, persist
 * with one synced write, send what depended on it, apply committed blocks, advance), builds blocks from
 * the mempool when it leads, and reconciles the Raft membership with the members' nodes in the state.
 *
 * Blocks and Raft: the leader proposes a block only when every entry of its log is applied, so each
 * block is built on exactly the state its predecessors leave, and at most one block is in flight. Its
 * header binds the Raft term and index it was proposed at; a block committed anywhere else is refused.
 */
import {
  type ConfState,
  decodeConfChange,
  type Entry,
  type Message,
  NO_NODE,
  RaftError,
  RawNode,
  type Ready,
  type Role,
  raftConfig,
  type Snapshot,
} from "@medledger/consensus";
import {
  AUTHENTICITY_CODES,
  applyBlock,
  type Block,
  type BlockHeader,
  type BlockOutcome,
  blockHash,
  bytesEqual,
  checkAuthenticity,
  computeResultRoot,
  type DecodedBlock,
  decodeBlockParts,
  encodeBlockWithTxs,
  type Genesis,
  type Hash,
  isProtocolError,
  type LedgerEvent,
  merkleRoot,
  nobleVerifier,
  parseGenesis,
  type ReasonCode,
  replayBlock,
  type SignedTx,
  type Signer,
  signBlockHeader,
  signedTxDigest,
  toHex,
  type Verifier,
  verifyBlockContents,
} from "@medledger/protocol";
import { hasNodeErrorCode, invariant, NodeError } from "../errors.js";
import { type Logger, silentLogger } from "../logger.js";
import { Backfill } from "./backfill.js";
import { type Clock, systemClock } from "./clock.js";
import { decodeGossipBatch, encodeGossipBatch } from "./gossip-batch.js";
import {
  block_fit_attempts_max,
  block_fit_margin,
  block_time_drift_max_ms,
  checked_blocks_max,
  gossip_batch_delay_ms,
  gossip_batch_txs_max,
  ledger_block_bytes_max,
  ledger_block_txs_max,
  propose_backoff_ms,
  raft_term_lead_max,
  regossip_backoff_doublings_max,
  regossip_interval_ms,
  regossip_txs_max,
  snapshot_every_entries_default,
  state_request_timeout_ms,
  state_retry_initial_ms,
  state_retry_max_ms,
  storage_retry_ms,
} from "./limits.js";
import { type AddOutcome, Mempool, type PendingTx } from "./mempool.js";
import { decodeSnapshotData } from "./snapshot-data.js";
import { fetchState, StateServer } from "./state-transfer.js";
import type { CommittedTx, LedgerStore, LedgerTip } from "./store.js";
import { decodeRaftMessage, encodeRaftMessage } from "./wire.js";

/** How the ledger reaches its peers; peers are named by their node DIDs. */
export interface LedgerTransport {
  /** Queues a direct frame for `to` without blocking; false when it was dropped. */
  send(to: string, frame: Uint8Array): boolean;
  /** Sets the handler of direct frames. */
  onDirect(handler: (from: string, frame: Uint8Array) => void): void;
  /** Sends a request to a peer (state transfer); optional: without it the node cannot install snapshots. */
  request?(peer: string, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  /** Sets the handler of requests from peers. */
  onRequest?(handler: (peer: string, payload: Uint8Array) => Promise<Uint8Array>): void;
  /** Gossips a payload to every peer. */
  publish(payload: Uint8Array): void;
  /**
   * Sets the handler of gossip payloads and the check a payload must pass before it is delivered or
   * relayed (a transport that relays should not pass on what fails it).
   */
  onGossip(
    handler: (from: string, payload: Uint8Array) => void,
    check?: (payload: Uint8Array) => boolean,
  ): void;
  /** Reports a peer that broke the wire protocol (the transport may disconnect it). */
  reportMisbehaviour?(peer: string, reason: string): void;
}

/** The options of a LedgerNode. */
export interface LedgerNodeOptions {
  readonly genesis: Genesis;
  /** This node's key: its DID names the node in Raft, and it signs the node's blocks. */
  readonly signer: Signer;
  readonly store: LedgerStore;
  readonly transport: LedgerTransport;
  readonly clock?: Clock;
  readonly verifier?: Verifier;
  readonly logger?: Logger;
  /** Length of one Raft tick. */
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  /** Seed of the Raft election jitter (defaults to one derived from the node's DID). */
  readonly seed?: number;
  /** Applied entries between two Raft snapshots (default snapshot_every_entries_default). */
  readonly snapshotEveryEntries?: number;
  /** Entries a learner may lag the leader's commit and still be promoted to voter. */
  readonly promoteLagEntries?: number;
}

/** What a committed block did, for listeners. */
export interface AppliedBlock {
  readonly block: Block;
  readonly hash: Hash;
  readonly ids: readonly Hash[];
  readonly outcome: BlockOutcome;
}

/** The node's view of the cluster, for status endpoints and tests. */
export interface LedgerStatus {
  readonly node: string;
  readonly role: Role;
  readonly term: number;
  readonly leader: string;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly height: number;
  readonly blockHash: string;
  readonly appHash: string;
  readonly voters: readonly string[];
  readonly learners: readonly string[];
  readonly mempoolSize: number;
  /** The Raft index of the latest snapshot (0 before the first): the log holds entries after it. */
  readonly snapshotIndex: number;
}

const DEFAULT_TICK_MS = 100;
const DEFAULT_ELECTION_TICKS = 10;
const DEFAULT_HEARTBEAT_TICKS = 1;
const DEFAULT_PROMOTE_LAG_ENTRIES = 16;

/** One node of the replicated ledger. */
export class LedgerNode {
  /** This node's DID (its Raft id). */
  readonly id: string;
  readonly mempool: Mempool;
  private readonly genesis: Genesis;
  private readonly store: LedgerStore;
  private readonly transport: LedgerTransport;
  private readonly clock: Clock;
  private readonly verifier: Verifier;
  private readonly signer: Signer;
  private readonly logger: Logger;
  private readonly rawNode: RawNode;
  private readonly tickMs: number;
  private readonly electionTicks: number;
  private readonly promoteLagEntries: number;
  private stopTicker: (() => void) | null = null;
  private stopGossipTimer: (() => void) | null = null;
  private stopRegossipTimer: (() => void) | null = null;
  private scheduled = false;
  /** No block is proposed before this time (after the core refused one). */
  private proposeBackoffUntil = 0;
  /** A Ready whose writes failed on a full disk, retried every storage_retry_ms. */
  private stalled: Ready | null = null;
  private stalledSince: number | null = null;
  private installing: Promise<void> | null = null;
  private readonly stateServer: StateServer | null;
  private readonly backfill: Backfill | null;
  private readonly snapshotEveryEntries: number;
  private running = false;
  private halted: Error | null = null;
  private role: Role = "follower";
  private leader: string = NO_NODE;
  private gossipQueue: Uint8Array[] = [];
  /**
   * Blocks whose contents this node checked (appended as a follower) or built (as the leader), by Raft
   * index, with their bytes and decoded parts: applying them decodes and verifies nothing again.
   */
  private readonly checkedBlocks = new Map<number, CheckedBlock>();
  /** Gossip payloads the transport's check decoded, until they are delivered. */
  private readonly checkedGossip = new WeakMap<Uint8Array, Uint8Array[]>();
  /** When this node last heard its current leader (the lease during which no other leader is followed). */
  private leaderHeardAt = Number.NEGATIVE_INFINITY;
  private blocksExecuted = 0;
  private blocksReplayed = 0;
  private readonly blockListeners = new Set<(block: AppliedBlock) => void>();
  private readonly waiters = new Map<string, Array<(tx: CommittedTx) => void>>();

  constructor(options: LedgerNodeOptions) {
    this.genesis = parseGenesis(options.genesis);
    this.id = options.signer.did;
    this.store = options.store;
    this.transport = options.transport;
    this.clock = options.clock ?? systemClock;
    this.verifier = options.verifier ?? nobleVerifier;
    this.signer = options.signer;
    this.logger = (options.logger ?? silentLogger).child({ module: "ledger", node: this.id.slice(-8) });
    this.tickMs = options.tickMs ?? DEFAULT_TICK_MS;
    this.electionTicks = options.electionTicks ?? DEFAULT_ELECTION_TICKS;
    this.promoteLagEntries = options.promoteLagEntries ?? DEFAULT_PROMOTE_LAG_ENTRIES;
    this.snapshotEveryEntries = options.snapshotEveryEntries ?? snapshot_every_entries_default;
    this.stateServer =
      this.store.snapshots === undefined
        ? null
        : new StateServer(this.store.snapshots, this.clock, this.store.history);
    const history = this.store.history;
    const request = this.transport.request?.bind(this.transport);
    this.backfill =
      history === undefined || request === undefined
        ? null
        : new Backfill({
            history,
            request,
            sources: () => this.catchUpSources(),
            clock: this.clock,
            logger: this.logger,
            onStored: (blocks) => {
              for (const block of blocks) this.resolveWaiters(block.ids);
            },
            onBroken: (error) => this.halt(error),
          });
    this.mempool = new Mempool({
      chain: this.genesis.chain,
      verifier: this.verifier,
      now: () => this.clock.now(),
      isCommitted: (id) => this.store.state.hasSeen(id),
      checkAuthenticity: (signed) => checkAuthenticity(this.store.state, signed),
      onExpired: (txs) => this.logger.warn("transactions expired in the mempool", { count: txs.length }),
    });
    this.rawNode = new RawNode({
      config: raftConfig({
        id: this.id,
        seed: options.seed ?? seedFromId(this.id),
        electionTicks: this.electionTicks,
        heartbeatTicks: options.heartbeatTicks ?? DEFAULT_HEARTBEAT_TICKS,
      }),
      storage: this.store.raft,
    });
  }

  /** Starts ticking and serving peers. */
  start(): void {
    if (this.running) throw new NodeError("ALREADY_STARTED", "the ledger node is already running");
    this.running = true;
    this.transport.onDirect((from, frame) => this.onDirect(from, frame));
    this.transport.onGossip(
      (from, payload) => this.onGossip(from, payload),
      (payload) => this.checkGossip(payload),
    );
    const server = this.stateServer;
    if (server !== null) this.transport.onRequest?.(async (_peer, payload) => server.handle(payload));
    this.stopTicker = this.clock.every(this.tickMs, () => {
      if (!this.running) return;
      this.rawNode.tick();
      this.schedule();
    });
    this.stopGossipTimer = this.clock.every(gossip_batch_delay_ms, () => this.flushGossip());
    this.stopRegossipTimer = this.clock.every(regossip_interval_ms, () => {
      if (this.running && this.role !== "leader") this.regossip(true);
    });
    this.backfill?.kick();
    this.schedule();
  }

  /** Stops ticking and serving; pending work is dropped (Raft recovers it from storage). */
  stop(): void {
    this.running = false;
    this.stateServer?.close();
    void this.backfill?.stop();
    this.stopTicker?.();
    this.stopGossipTimer?.();
    this.stopRegossipTimer?.();
    this.stopRegossipTimer = null;
    this.stopTicker = null;
    this.stopGossipTimer = null;
  }

  /** True while this node installs a snapshot (its Raft messages wait until the state has arrived). */
  get installingSnapshot(): boolean {
    return this.installing !== null;
  }

  /** The block back-fill behind installed snapshots: running, blocks stored, answers refused. */
  get backfillStats(): { running: boolean; stored: number; refused: number } {
    const backfill = this.backfill;
    return backfill === null
      ? { running: false, stored: 0, refused: 0 }
      : { running: backfill.running, stored: backfill.stored, refused: backfill.refused };
  }

  /** The error that halted this node (a broken invariant), or null while it is healthy. */
  get haltedBy(): Error | null {
    return this.halted;
  }

  /**
   * Offers an encoded signed transaction: verified once, queued, gossiped in a batch. Idempotent by id.
   * `decoded`: the caller's decoding of `encoded`, if it has one. Throws TX_INVALID or MEMPOOL_FULL.
   */
  submit(encoded: Uint8Array, decoded?: { signed: SignedTx; id: Hash }): AddOutcome {
    this.assertHealthy();
    if (this.stalled !== null) {
      throw new NodeError(
        "STORAGE_FULL",
        "this node's disk is full: it takes no transactions until space returns",
      );
    }
    const outcome = this.mempool.add(encoded, decoded);
    if (outcome.status === "accepted") {
      this.gossipQueue.push(encoded);
      if (this.gossipQueue.length >= gossip_batch_txs_max) this.flushGossip();
      this.schedule();
    }
    return outcome;
  }

  /** Resolves with the committed transaction `id` once it is applied here, or rejects after `timeoutMs`. */
  waitForTx(id: Hash, timeoutMs: number): Promise<CommittedTx> {
    const committed = this.store.getTx(id);
    if (committed !== null && !AUTHENTICITY_CODES.has(committed.result.code as ReasonCode)) {
      return Promise.resolve(committed);
    }
    const key = toHex(id);
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(key) ?? [];
      const cancel = this.clock.after(timeoutMs, () => {
        const remaining = (this.waiters.get(key) ?? []).filter((waiter) => waiter !== done);
        if (remaining.length === 0) this.waiters.delete(key);
        else this.waiters.set(key, remaining);
        reject(
          new NodeError("NETWORK_TIMEOUT", `transaction ${key} was not committed within ${timeoutMs} ms`),
        );
      });
      const done = (tx: CommittedTx): void => {
        cancel();
        resolve(tx);
      };
      list.push(done);
      this.waiters.set(key, list);
    });
  }

  /** The committed transaction `id` with its position and result, or null. */
  committedTx(id: Hash): CommittedTx | null {
    return this.store.getTx(id);
  }

  /** The committed block at `height` and its encoding, or null. */
  committedBlock(height: number): { block: Block; encoded: Uint8Array } | null {
    return this.store.getBlock(height);
  }

  /** Calls `listener` with every block this node applies; returns a function that unsubscribes. */
  onBlock(listener: (block: AppliedBlock) => void): () => void {
    this.blockListeners.add(listener);
    return () => this.blockListeners.delete(listener);
  }

  /** The node's view of the cluster. */
  status(): LedgerStatus {
    const raft = this.rawNode.status();
    const tip = this.store.tip();
    return {
      node: this.id,
      role: raft.role,
      term: raft.term,
      leader: raft.lead,
      commitIndex: raft.commit,
      appliedIndex: tip.appliedIndex,
      height: tip.height,
      blockHash: toHex(tip.hash),
      appHash: toHex(tip.appHash),
      voters: raft.confState.voters,
      learners: raft.confState.learners,
      mempoolSize: this.mempool.size,
      snapshotIndex: this.store.raft.firstIndex() - 1,
    };
  }

  /** Blocks applied by running the rules, and blocks this node built and applied by replaying its dry run. */
  get applyStats(): { executed: number; replayed: number } {
    return { executed: this.blocksExecuted, replayed: this.blocksReplayed };
  }

  /** Starts an election now (tests and operators). */
  campaign(): void {
    this.rawNode.campaign();
    this.schedule();
  }

  /** Asks the leader to hand leadership to `to`. */
  transferLeadership(to: string): void {
    this.rawNode.transferLeader(to);
    this.schedule();
  }

  // ---- Inputs -----------------------------------------------------------------------------------

  private onDirect(from: string, frame: Uint8Array): void {
    if (!this.running || this.halted !== null) return;
    let message: Message;
    try {
      message = decodeRaftMessage(frame);
      if (message.from !== from)
        throw new NodeError("WIRE_INVALID", "a peer sent a message in another's name");
      if (message.to !== this.id) throw new NodeError("WIRE_INVALID", "a message for another node");
      if (!this.admitLeaderMessage(message)) return;
      this.checkAppendedBlocks(message);
    } catch (error) {
      this.reject(from, error);
      return;
    }
    try {
      this.rawNode.step(message);
    } catch (error) {
      if (!(error instanceof RaftError) || error.code === "INVARIANT") throw error;
      this.logger.debug("the consensus core refused a message", { from, code: error.code });
    }
    this.schedule();
  }

  /** The gossip validator: is `payload` a well-formed batch? Keeps the decoding for onGossip. */
  private checkGossip(payload: Uint8Array): boolean {
    try {
      this.checkedGossip.set(payload, decodeGossipBatch(payload));
      return true;
    } catch {
      return false;
    }
  }

  private onGossip(from: string, payload: Uint8Array): void {
    if (!this.running || this.halted !== null) return;
    let batch: Uint8Array[];
    try {
      batch = this.checkedGossip.get(payload) ?? decodeGossipBatch(payload);
      this.checkedGossip.delete(payload);
    } catch (error) {
      // `from` only relayed it (the transport's check should have stopped it): log, blame no one.
      this.logger.warn("refused a gossip batch", {
        from: from.slice(-8),
        reason: error instanceof Error ? error.message : String(error),
      });
      return;
    }
    let refused = 0;
    for (const item of batch) {
      try {
        this.mempool.add(item);
      } catch {
        refused++; // invalid, expired or no room: the submitter's node answers for it
      }
    }
    if (refused > 0) this.logger.debug("gossiped transactions refused", { from, refused });
    this.schedule();
  }

  private reject(peer: string, error: unknown): void {
    const reason = error instanceof Error ? error.message : String(error);
    this.logger.warn("refused a message from a peer", { peer, reason });
    this.transport.reportMisbehaviour?.(peer, reason);
  }

  /**
   * Raft trusts any peer to speak as the leader of a term; a member's node that lies must not take the
   * cluster down with one message. Throws WIRE_INVALID for a term too far ahead of ours, and for a
   * leader's message (append, heartbeat, snapshot) from a node other than the leader we know in our
   * term (one leader per term). Returns false (ignore, without blame) for a leader's message of a higher
   * term from another node while our leader's lease holds: a new leader is followed once ours has been
   * silent for an election timeout, as it would be after an honest election.
   */
  private admitLeaderMessage(message: Message): boolean {
    const status = this.rawNode.basicStatus();
    if (message.term > status.term + raft_term_lead_max) {
      throw new NodeError("WIRE_INVALID", `a term ${message.term - status.term} ahead of ours`);
    }
    const fromLeader = message.type === "app" || message.type === "heartbeat" || message.type === "snap";
    if (!fromLeader) return true;
    if (message.from === status.lead && message.term === status.term) {
      this.leaderHeardAt = this.clock.now();
      return true;
    }
    if (status.lead === NO_NODE) return true;
    if (message.term === status.term) {
      throw new NodeError("WIRE_INVALID", "a second leader in one term");
    }
    const leaseMs = this.electionTicks * this.tickMs;
    const leaseHolds =
      status.lead === this.id ? status.role === "leader" : this.clock.now() - this.leaderHeardAt < leaseMs;
    if (message.term > status.term && leaseHolds) {
      this.logger.debug("ignored a leader's message during our leader's lease", {
        from: message.from.slice(-8),
      });
      return false;
    }
    return true;
  }

  /**
   * Before a follower acknowledges appended blocks it checks everything that needs no state: encoding,
   * Merkle roots, the proposer's signature and every transaction's signatures (those its mempool
   * verified are skipped). Chaining and the app hash are checked when the block is applied.
   */
  private checkAppendedBlocks(message: Message): void {
    for (const entry of message.entries) {
      if (entry.type !== "normal" || entry.data.length === 0) continue;
      const known = this.checkedBlocks.get(entry.index);
      if (known !== undefined && known.term === entry.term && bytesEqual(known.encoded, entry.data)) continue;
      const parts = decodeBlockParts(entry.data, (digest) => this.mempool.byDigest(digest));
      this.checkBlockBinding(parts.block.header, entry);
      if (parts.block.header.time > this.clock.now() + block_time_drift_max_ms) {
        throw new NodeError("WIRE_INVALID", "a block's time is too far in the future");
      }
      verifyBlockContents(parts.block, this.verifier, {
        isVerified: (digest) => this.mempool.isVerified(digest),
        parts,
      });
      this.rememberCheckedBlock(entry, parts);
    }
  }

  /** Remembers a block whose contents this node checked (appended as a follower, or built as leader). */
  private rememberCheckedBlock(
    entry: { index: number; term: number; data: Uint8Array },
    parts: DecodedBlock,
    executed: Executed | null = null,
  ): void {
    this.checkedBlocks.delete(entry.index);
    this.checkedBlocks.set(entry.index, { term: entry.term, encoded: entry.data, parts, executed });
    if (this.checkedBlocks.size <= checked_blocks_max) return;
    const oldest = this.checkedBlocks.keys().next();
    if (oldest.done !== true) this.checkedBlocks.delete(oldest.value);
  }

  /** The checked block in `entry`, taken out of the cache, or null when it holds none. */
  private takeCheckedBlock(entry: Entry): CheckedBlock | null {
    const known = this.checkedBlocks.get(entry.index);
    if (known === undefined) return null;
    this.checkedBlocks.delete(entry.index);
    if (known.term !== entry.term || !bytesEqual(known.encoded, entry.data)) return null;
    return known;
  }

  private checkBlockBinding(header: BlockHeader, entry: Entry): void {
    if (header.chain !== this.genesis.chain) throw new NodeError("WIRE_INVALID", "a block for another chain");
    if (header.raftIndex !== entry.index || header.raftTerm !== entry.term) {
      throw new NodeError("WIRE_INVALID", "a block is not bound to the Raft entry that carries it");
    }
  }

  // ---- The loop ---------------------------------------------------------------------------------

  private schedule(): void {
    if (this.scheduled || !this.running) return;
    this.scheduled = true;
    this.clock.defer(() => {
      this.scheduled = false;
      this.process();
    });
  }

  private process(): void {
    if (!this.running || this.halted !== null) return;
    try {
      do {
        while (this.installing === null && this.stalled === null && this.rawNode.hasReady()) {
          this.handleReady(this.rawNode.ready());
        }
      } while (this.stalled === null && this.lead());
    } catch (error) {
      this.halt(error);
    }
  }

  private handleReady(ready: Ready): void {
    this.sendAll(ready.messages);
    if (ready.snapshot !== null) {
      this.installing = this.installSnapshot(ready, ready.snapshot);
      return; // the Ready is finished once the state has arrived
    }
    this.finishReady(ready);
  }

  /**
   * Persists, sends, applies and advances one Ready. When the disk is full it keeps the Ready and
   * tries it again later (every step is idempotent: the same entries are appended again, applied
   * entries are skipped, repeated acknowledgements are harmless); meanwhile the node takes no new
   * transactions and proposes nothing, and nothing half-written remains (each write is one SQLite
   * transaction).
   */
  private finishReady(ready: Ready): void {
    try {
      this.persistApplyAdvance(ready);
    } catch (error) {
      if (!hasNodeErrorCode(error, "STORAGE_FULL")) throw error;
      this.stallOn(ready, error as Error);
      return;
    }
    try {
      this.maybeTakeSnapshot();
    } catch (error) {
      if (!hasNodeErrorCode(error, "STORAGE_FULL")) throw error; // the next applied Ready tries again
    }
    if (this.stalledSince !== null) {
      this.logger.info("writes succeed again: resumed", { stalled_ms: this.clock.now() - this.stalledSince });
      this.stalledSince = null;
    }
  }

  private stallOn(ready: Ready, error: Error): void {
    this.stalled = ready;
    if (this.stalledSince === null) {
      this.stalledSince = this.clock.now();
      this.logger.error("the disk is full: writes refused until space returns", { reason: error.message });
    }
    this.clock.after(storage_retry_ms, () => {
      const again = this.stalled;
      this.stalled = null;
      if (again === null || !this.running || this.halted !== null) return;
      try {
        this.finishReady(again);
      } catch (failure) {
        this.halt(failure);
        return;
      }
      this.schedule();
    });
  }

  private persistApplyAdvance(ready: Ready): void {
    if (ready.hardState !== null || ready.entries.length > 0) {
      this.store.persistRaft({ hardState: ready.hardState, entries: ready.entries, snapshot: null });
    }
    this.sendAll(ready.messagesAfterPersist);
    for (const entry of ready.committedEntries) this.applyEntry(entry);
    this.observeRole(ready.softState.role, ready.softState.lead);
    this.rawNode.advance();
  }

  /**
   * Installs a snapshot the leader sent: fetches the state from a peer (the leader first, then the other
   * voters in turn, retrying with backoff until one serves a state at least as new as the snapshot),
   * replaces ours with it, persists the snapshot, drops from the mempool what the new state has
   * committed, then finishes the Ready. Our own blocks stay as history; the back-fill then fetches the
   * blocks between them and the snapshot.
   */
  private async installSnapshot(ready: Ready, snapshot: Snapshot): Promise<void> {
    const snapshots = this.store.snapshots;
    const request = this.transport.request;
    if (snapshots === undefined || request === undefined) {
      this.halt(new NodeError("NODE_INVARIANT", "a snapshot arrived but this node cannot transfer state"));
      return;
    }
    const wanted = decodeSnapshotData(snapshot.data);
    let delay = state_retry_initial_ms;
    for (let attempt = 0; this.running; attempt++) {
      const sources = this.catchUpSources();
      const source = sources[attempt % Math.max(1, sources.length)] ?? ready.softState.lead;
      try {
        const { tip, chunks } = await fetchState(
          request.bind(this.transport),
          source,
          state_request_timeout_ms,
        );
        if (tip.appliedIndex < snapshot.metadata.index || tip.height < wanted.height) {
          throw new NodeError(
            "WIRE_INVALID",
            `the peer's state (${tip.appliedIndex}) is older than the snapshot`,
          );
        }
        if (!this.running) return;
        snapshots.importState(chunks, tip);
        this.store.persistRaft({ hardState: null, entries: [], snapshot });
        const dropped = this.mempool.dropCommitted();
        this.logger.info("installed a snapshot", {
          height: tip.height,
          index: snapshot.metadata.index,
          from: source.slice(-8),
          mempool_dropped: dropped,
        });
        this.installing = null;
        this.finishReady(ready);
        this.backfill?.kick();
        this.schedule();
        return;
      } catch (error) {
        if (!this.running) return;
        const reason = error instanceof Error ? error.message : String(error);
        this.logger.warn("state transfer failed; retrying", { from: source.slice(-8), reason, delay });
        await new Promise<void>((resolve) => this.clock.after(delay, resolve));
        delay = Math.min(delay * 2, state_retry_max_ms);
      }
    }
  }

  /**
   * The peers to fetch state or blocks from, best first: the leader as this node's core knows it now,
   * then the other voters.
   */
  private catchUpSources(): string[] {
    const lead = this.rawNode.basicStatus().lead;
    const leader = lead !== NO_NODE ? lead : this.leader;
    const voters = this.rawNode.status().confState.voters.filter((id) => id !== this.id && id !== leader);
    return leader !== NO_NODE && leader !== this.id ? [leader, ...voters] : voters;
  }

  /** Takes a Raft snapshot (compacting the log) every snapshotEveryEntries applied entries. */
  private maybeTakeSnapshot(): void {
    const snapshots = this.store.snapshots;
    if (snapshots === undefined) return;
    const applied = this.store.tip().appliedIndex;
    if (applied - (this.store.raft.firstIndex() - 1) < this.snapshotEveryEntries) return;
    const snapshot = snapshots.take(this.rawNode.confStateAt(applied));
    this.logger.info("took a snapshot", { index: snapshot.metadata.index });
  }

  private sendAll(messages: readonly Message[]): void {
    for (const message of messages) {
      invariant(message.to !== this.id, "the consensus core never addresses itself");
      this.transport.send(message.to, encodeRaftMessage(message));
    }
  }

  private observeRole(role: Role, leader: string): void {
    const leaderChanged = leader !== this.leader;
    this.role = role;
    this.leader = leader;
    if (leaderChanged && leader !== NO_NODE) {
      this.logger.info("leader known", { leader: leader.slice(-8), role });
      this.regossip();
    }
  }

  // ---- Applying -----------------------------------------------------------------------------------

  private applyEntry(entry: Entry): void {
    const tip = this.store.tip();
    if (entry.index <= tip.appliedIndex) return; // applied before a restart
    if (entry.type === "confChange") {
      const change = decodeConfChange(entry.data);
      this.logger.info("membership change applied", { type: change.type, node: change.nodeId.slice(-8) });
      this.store.markApplied(entry.index);
      return;
    }
    if (entry.data.length === 0) {
      this.store.markApplied(entry.index);
      return;
    }
    this.applyBlockEntry(entry);
  }

  private applyBlockEntry(entry: Entry): void {
    const checked = this.takeCheckedBlock(entry);
    const parts = checked?.parts ?? decodeBlockParts(entry.data, (digest) => this.mempool.byDigest(digest));
    const block = parts.block;
    const header = block.header;
    const tip = this.store.tip();
    const hash = blockHash(header);
    if (header.height !== tip.height + 1 || !bytesEqual(header.prev, tip.hash)) {
      throw new NodeError(
        "LEDGER_DIVERGED",
        `committed block ${header.height} does not follow ${tip.height}`,
      );
    }
    if (header.raftIndex !== entry.index || header.raftTerm !== entry.term) {
      throw new NodeError("LEDGER_DIVERGED", `block ${header.height} is not bound to its Raft entry`);
    }
    const ids =
      checked !== null
        ? parts.ids
        : verifyBlockContents(block, this.verifier, {
            isVerified: (digest) => this.mempool.isVerified(digest),
            parts,
          });
    // The leader executed its own block when it built it: when the state is still the one it built on,
    // it makes the same writes again instead of running the rules twice.
    const executed = checked?.executed ?? null;
    const replay =
      executed !== null &&
      executed.appliedIndex === tip.appliedIndex &&
      bytesEqual(executed.appHash, tip.appHash) &&
      bytesEqual(executed.outcome.appHash, header.appHash)
        ? executed.outcome
        : null;
    const outcome = this.store.commitBlock({
      block,
      encoded: entry.data,
      ids,
      txEncodings: parts.txEncodings,
      hash,
      raftIndex: entry.index,
      apply: (state) => {
        if (replay !== null) {
          this.blocksReplayed++;
          return replayBlock(
            state,
            { height: header.height, time: header.time, prevAppHash: tip.appHash },
            replay,
          );
        }
        this.blocksExecuted++;
        const result = applyBlock(state, {
          chain: header.chain,
          height: header.height,
          time: header.time,
          prevAppHash: tip.appHash,
          txs: block.txs.map((signed, index) => ({ signed, id: ids[index] as Hash })),
        });
        if (!bytesEqual(result.appHash, header.appHash)) {
          throw new NodeError("LEDGER_DIVERGED", `block ${header.height}: the app hash differs from ours`);
        }
        if (!bytesEqual(computeResultRoot(result.results), header.resultRoot)) {
          throw new NodeError("LEDGER_DIVERGED", `block ${header.height}: the results differ from ours`);
        }
        return result;
      },
    });
    this.forgetFromMempool(parts, outcome);
    this.afterCommit({ block, hash, ids, outcome });
  }

  /** Drops what a committed block settled: every copy of a consumed id, the exact copy of any other. */
  private forgetFromMempool(parts: DecodedBlock, outcome: BlockOutcome): void {
    const consumed: Hash[] = [];
    const copies: Hash[] = [];
    outcome.results.forEach((result, index) => {
      const id = parts.ids[index] as Hash;
      if (!AUTHENTICITY_CODES.has(result.code as ReasonCode)) consumed.push(id);
      else copies.push(signedTxDigest(parts.txEncodings[index] as Uint8Array));
    });
    this.mempool.removeIds(consumed);
    this.mempool.removeDigests(copies);
  }

  private afterCommit(committed: AppliedBlock): void {
    for (const listener of this.blockListeners) listener(committed);
    this.resolveWaiters(committed.ids);
    if (committed.outcome.events.some((event: LedgerEvent) => event.type === "membership")) {
      this.logger.info("the members changed", { height: committed.block.header.height });
    }
  }

  /** Answers the clients waiting for any of these committed transactions. */
  private resolveWaiters(ids: readonly Hash[]): void {
    if (this.waiters.size === 0) return;
    for (const id of ids) {
      const key = toHex(id);
      const waiting = this.waiters.get(key);
      if (waiting === undefined) continue;
      const stored = this.store.getTx(id);
      invariant(stored !== null, "a committed transaction is stored");
      if (AUTHENTICITY_CODES.has(stored.result.code as ReasonCode)) continue; // a forged copy: keep waiting
      this.waiters.delete(key);
      for (const resolve of waiting) resolve(stored);
    }
  }

  // ---- Leading ------------------------------------------------------------------------------------

  /** When leading with the whole log applied: reconciles membership, else proposes a block. True if it proposed. */
  private lead(): boolean {
    if (this.role !== "leader") return false;
    const status = this.rawNode.basicStatus();
    if (status.leadTransferee !== NO_NODE) return false;
    if (this.store.tip().appliedIndex !== status.lastIndex) return false;
    const full = this.rawNode.status();
    if (this.reconcileMembership(full.confState, full.commit, full.progress)) return true;
    return this.proposeBlock(status.term, status.lastIndex + 1);
  }

  private reconcileMembership(
    confState: ConfState,
    commit: number,
    progress: ReturnType<RawNode["status"]>["progress"],
  ): boolean {
    const wanted = new Set(this.store.state.listMembers().flatMap((member) => member.nodes));
    const change = nextConfChange(confState, wanted, (learner) => {
      const match = progress.get(learner)?.match ?? 0;
      return commit - match <= this.promoteLagEntries;
    });
    if (change === null) return false;
    try {
      this.rawNode.proposeConfChange(change);
      this.logger.info("proposed a membership change", { type: change.type, node: change.nodeId.slice(-8) });
      return true;
    } catch (error) {
      if (error instanceof RaftError && error.code !== "INVARIANT") return false;
      throw error;
    }
  }

  private proposeBlock(term: number, index: number): boolean {
    if (this.clock.now() < this.proposeBackoffUntil) return false;
    const tip = this.store.tip();
    const time = Math.max(this.clock.now(), tip.time);
    const pending = this.mempool.take({
      time,
      txsMax: ledger_block_txs_max,
      bytesMax: ledger_block_bytes_max,
    });
    let txs = pending.filter((tx) => !this.store.state.hasSeen(tx.id));
    if (txs.length < pending.length) {
      this.mempool.removeIds(pending.filter((tx) => !txs.includes(tx)).map((tx) => tx.id));
    }
    // The block carries results too: when its encoding is over the proposal limit, keep the share of
    // the transactions that fits (with a margin) and build it again.
    for (let attempt = 0; txs.length > 0 && attempt < block_fit_attempts_max; attempt++) {
      const built = this.buildBlock(tip, time, term, index, txs);
      if (built === null) return false;
      if (built.encoded.length <= ledger_block_bytes_max) return this.propose(built, term, index);
      invariant(txs.length > 1, "a block of one transaction fits a proposal");
      const share = (ledger_block_bytes_max / built.encoded.length) * block_fit_margin;
      txs = txs.slice(0, Math.max(1, Math.min(txs.length - 1, Math.floor(txs.length * share))));
    }
    return false;
  }

  /** Executes `txs` on a throwaway copy of the state and builds the signed block; null on a full disk. */
  private buildBlock(
    tip: LedgerTip,
    time: number,
    term: number,
    index: number,
    txs: readonly PendingTx[],
  ): BuiltBlock | null {
    let outcome: BlockOutcome;
    try {
      outcome = this.store.dryRun((state) =>
        applyBlock(state, {
          chain: this.genesis.chain,
          height: tip.height + 1,
          time,
          prevAppHash: tip.appHash,
          txs: txs.map((tx) => ({ signed: tx.signed, id: tx.id })),
        }),
      );
    } catch (error) {
      if (hasNodeErrorCode(error, "STORAGE_FULL")) return null; // no room even to try: a later tick may
      throw error;
    }
    const header: BlockHeader = {
      v: 1,
      chain: this.genesis.chain,
      height: tip.height + 1,
      prev: tip.hash,
      time,
      proposer: this.id,
      txRoot: merkleRoot(txs.map((tx) => tx.encoded)),
      resultRoot: computeResultRoot(outcome.results),
      appHash: outcome.appHash,
      raftTerm: term,
      raftIndex: index,
    };
    const block: Block = {
      header,
      sig: signBlockHeader(header, this.signer),
      txs: txs.map((tx) => tx.signed),
      results: outcome.results,
    };
    const txEncodings = txs.map((tx) => tx.encoded);
    return {
      parts: { block, txEncodings, ids: txs.map((tx) => tx.id) },
      encoded: encodeBlockWithTxs(block, txEncodings),
      executed: { appliedIndex: tip.appliedIndex, appHash: tip.appHash, outcome },
    };
  }

  /** Hands a built block to Raft; a refused proposal backs off instead of being rebuilt at once. */
  private propose(built: BuiltBlock, term: number, index: number): boolean {
    const header = built.parts.block.header;
    try {
      const proposed = this.rawNode.propose(built.encoded);
      invariant(proposed.index === index && proposed.term === term, "a block lands where it was built for");
    } catch (error) {
      if (!(error instanceof RaftError) || error.code === "INVARIANT") throw error;
      this.proposeBackoffUntil = this.clock.now() + propose_backoff_ms; // the transactions stay waiting
      this.logger.warn("the consensus core refused a block", { code: error.code, height: header.height });
      return false;
    }
    this.rememberCheckedBlock({ index, term, data: built.encoded }, built.parts, built.executed);
    this.logger.debug("proposed a block", { height: header.height, txs: built.parts.block.txs.length });
    return true;
  }

  // ---- Gossip -------------------------------------------------------------------------------------

  private flushGossip(): void {
    if (this.gossipQueue.length === 0 || !this.running) return;
    const batch = this.gossipQueue.splice(0, gossip_batch_txs_max);
    this.transport.publish(encodeGossipBatch(batch));
    if (this.gossipQueue.length > 0) this.clock.defer(() => this.flushGossip());
  }

  /**
   * Offers waiting transactions again: after a leader change every one (up to regossip_txs_max), so the
   * new leader has them; and periodically on followers those due (backing off per transaction),
   * because gossip may lose a batch and a leader proposes only what its own mempool holds.
   */
  private regossip(periodic = false): void {
    const pending = this.mempool.reoffer(
      this.clock.now(),
      regossip_txs_max,
      periodic
        ? { intervalMs: regossip_interval_ms, doublingsMax: regossip_backoff_doublings_max }
        : undefined,
    );
    for (let start = 0; start < pending.length; start += gossip_batch_txs_max) {
      const batch = pending.slice(start, start + gossip_batch_txs_max).map((tx) => tx.encoded);
      this.transport.publish(encodeGossipBatch(batch));
    }
  }

  private assertHealthy(): void {
    if (this.halted !== null)
      throw new NodeError("LEDGER_DIVERGED", `this node halted: ${this.halted.message}`);
    if (!this.running) throw new NodeError("NOT_STARTED", "the ledger node is not running");
  }

  private halt(error: unknown): void {
    const failure = error instanceof Error ? error : new Error(String(error));
    this.halted = failure;
    this.logger.error("the ledger halted", { reason: failure.message });
    this.stop();
    if (!(failure instanceof NodeError) && !isProtocolError(failure) && !(failure instanceof RaftError))
      throw failure;
  }
}

/** A block this node checked or built, kept until it is applied. */
interface CheckedBlock {
  readonly term: number;
  readonly encoded: Uint8Array;
  readonly parts: DecodedBlock;
  /** For a block this node built: the dry run that gave its results and app hash. */
  readonly executed: Executed | null;
}

/** A leader's dry run of its block: the state it ran on (applied index, app hash) and the outcome. */
interface Executed {
  readonly appliedIndex: number;
  readonly appHash: Hash;
  readonly outcome: BlockOutcome;
}

/** A block the leader built: its parts, its encoding and its dry run. */
interface BuiltBlock {
  readonly parts: DecodedBlock;
  readonly encoded: Uint8Array;
  readonly executed: Executed;
}

/**
 * The next single-server change that moves the Raft configuration towards the wanted voters: add a
 * missing node as a learner, promote a learner that has caught up, remove a node no member names.
 * Removals come last so the cluster never shrinks below what it is growing to.
 */
export function nextConfChange(
  confState: ConfState,
  wanted: ReadonlySet<string>,
  caughtUp: (learner: string) => boolean,
): { type: "addLearner" | "addVoter" | "removeNode"; nodeId: string } | null {
  const present = new Set([...confState.voters, ...confState.learners]);
  for (const node of [...wanted].sort()) {
    if (!present.has(node)) return { type: "addLearner", nodeId: node };
  }
  for (const learner of confState.learners) {
    if (wanted.has(learner) && caughtUp(learner)) return { type: "addVoter", nodeId: learner };
  }
  for (const node of [...present].sort()) {
    if (!wanted.has(node)) return { type: "removeNode", nodeId: node };
  }
  return null;
}

function seedFromId(id: string): number {
  let hash = 2166136261;
  for (let index = 0; index < id.length; index++) {
    hash ^= id.charCodeAt(index);
    hash = Math.imul(hash, 16777619) >>> 0;
  }
  return hash;
}
