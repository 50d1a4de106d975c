/**
 * What the ledger needs from storage: the Raft log (read port plus an atomic, synced persist), the
 * committed state, the blocks, and two ways to run the rules: a dry run on a throwaway copy (the leader
 * executing a candidate block) and an atomic commit (apply, store the block and its results, record the
 * applied Raft index, all or nothing). MemoryLedgerStore serves tests and in-process demos; the SQLite
 * store serves real nodes.
 */
import {
  bootstrapSnapshot,
  type ConfState,
  type Entry,
  type HardState,
  MemoryStorage,
  type Snapshot,
  type Storage,
} from "@medledger/consensus";
import {
  AUTHENTICITY_CODES,
  applyGenesis,
  type Block,
  type BlockHeader,
  type BlockOutcome,
  blockHash,
  encodeSignedTx,
  type Genesis,
  type Hash,
  MemoryStateStore,
  type ReasonCode,
  type StateStore,
  type TxResult,
  toHex,
} from "@medledger/protocol";
import { invariant } from "../errors.js";

/** What a Ready asks to persist, in one synced write. */
export interface ReadyPersist {
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | null;
}

/** The last applied block and Raft index. */
export interface LedgerTip {
  /** Height of the last applied block (0 after genesis). */
  readonly height: number;
  /** Its header, or null at genesis. */
  readonly header: BlockHeader | null;
  /** Its hash (32 zero bytes at genesis). */
  readonly hash: Hash;
  /** Its time (the genesis time at genesis). */
  readonly time: number;
  /** The app hash after it. */
  readonly appHash: Hash;
  /** The last Raft index applied (blocks, no-ops and conf changes alike). */
  readonly appliedIndex: number;
}

/** A committed transaction: where it is and what it did. */
export interface CommittedTx {
  readonly id: Hash;
  readonly height: number;
  readonly txIndex: number;
  readonly encoded: Uint8Array;
  readonly result: TxResult;
}

/** A block to commit atomically with the state transition `apply` makes. */
export interface CommitBlock {
  readonly block: Block;
  readonly encoded: Uint8Array;
  readonly ids: readonly Hash[];
  readonly raftIndex: number;
  /**
   * The canonical encodings of the block's signed transactions in block order (e.g. views into
   * `encoded`), when the caller has them: the store then encodes no transaction again.
   */
  readonly txEncodings?: readonly Uint8Array[];
  /** The block's header hash, when the caller has it: the store then does not hash the header again. */
  readonly hash?: Hash;
  /** Runs the rules on the committed state (inside the store's transaction). */
  readonly apply: (state: StateStore) => BlockOutcome;
}

/** Where an exported state stands. */
export interface StateTip {
  readonly height: number;
  readonly blockHash: Hash;
  readonly appHash: Hash;
  readonly appliedIndex: number;
}

/** A consistent export of the state, read chunk by chunk. */
export interface StateStream {
  readonly tip: StateTip;
  /** The next chunk, or null after the last. */
  next(): Uint8Array | null;
  /** Releases the export. Idempotent. */
  close(): void;
}

/** Raft snapshots and state transfer: how a node far behind (or new) catches up without the old log. */
export interface LedgerSnapshots {
  /** Takes a Raft snapshot of the applied state (its tip as data) and compacts the log through it. */
  take(confState: ConfState): Snapshot;
  /** A consistent export of the current state. */
  exportState(): StateStream;
  /** Replaces the state with exported chunks, checked against `tip`; stored blocks stay as history. */
  importState(chunks: readonly Uint8Array[], tip: StateTip): void;
}

/**
 * The highest run of heights at or below the tip whose blocks this node lacks (a snapshot it installed
 * skipped them), with what the blocks must chain to at both ends.
 */
export interface BlockGap {
  /** The lowest and highest missing heights. */
  readonly low: number;
  readonly high: number;
  /** The hash the block at `high` must have: the `prev` of the stored block above, or the tip's hash. */
  readonly anchor: Hash;
  /** The Raft index of the block above (the applied index + 1 when `high` is the tip's height). */
  readonly raftIndexAbove: number;
  /** What the block at `low` names as `prev`: the stored block below's hash (zeros at height 1). */
  readonly prevBelow: Hash;
  /** The Raft index of the stored block below (0 at height 1). */
  readonly raftIndexBelow: number;
}

/** A block checked against the hash chain, ready to store as history. */
export interface HistoryBlock {
  readonly block: Block;
  readonly encoded: Uint8Array;
  readonly hash: Hash;
  readonly ids: readonly Hash[];
}

/** The block history below an installed snapshot: what is missing, serving peers, and filling it. */
export interface LedgerHistory {
  /** The highest run of missing heights, or null when the chain is whole up to the tip. */
  gap(): BlockGap | null;
  /** Encodings of the stored blocks from `top` down, contiguous, bounded (empty when `top` is missing). */
  encodedDown(top: number, count: number): Uint8Array[];
  /** Stores checked blocks below the tip in one write (no state change). */
  fill(blocks: readonly HistoryBlock[]): void;
}

/** The storage a LedgerNode runs on. */
export interface LedgerStore {
  /** The Raft log's read port, handed to the consensus core. */
  readonly raft: Storage;
  /** The committed state (read it; write only through commitBlock). */
  readonly state: StateStore;
  /** Persists a Ready's snapshot, entries and hard state in one synced write. */
  persistRaft(persist: ReadyPersist): void;
  /** The last applied block and Raft index. */
  tip(): LedgerTip;
  /** Runs `fn` on a throwaway copy of the committed state. */
  dryRun<T>(fn: (state: StateStore) => T): T;
  /** Applies a committed block: state transition, block, transactions and applied index, all or nothing. */
  commitBlock(commit: CommitBlock): BlockOutcome;
  /** Records that a Raft entry carrying no block (a no-op or a conf change) was applied. */
  markApplied(raftIndex: number): void;
  /** The block at `height` and its encoding, or null. */
  getBlock(height: number): { block: Block; encoded: Uint8Array } | null;
  /**
   * A committed transaction by id, or null. One id may sit in several blocks (a forged copy rejected
   * without consuming it, a replay rejected after it): the answer is the first row that is not an
   * inauthentic copy, else the latest row.
   */
  getTx(id: Hash): CommittedTx | null;
  /** Snapshots and state transfer, when the store supports them. */
  readonly snapshots?: LedgerSnapshots;
  /** The block history below installed snapshots (with `snapshots`). */
  readonly history?: LedgerHistory;
}

/** The initial Raft configuration of a chain: every founding member's nodes are voters. */
export function genesisConfState(genesis: Genesis): ConfState {
  const voters = genesis.members.flatMap((member) => member.nodes).sort();
  return { voters, learners: [] };
}

/** A LedgerStore in memory (tests, simulations, demos): nothing survives the process. */
export class MemoryLedgerStore implements LedgerStore {
  readonly raft: MemoryStorage;
  private memoryState: MemoryStateStore;
  private readonly blocks: Array<{ block: Block; encoded: Uint8Array }> = [];
  private readonly txs = new Map<string, CommittedTx>();
  private current: LedgerTip;

  /** A store at the genesis of `genesis`, with the founders' nodes as the Raft voters. */
  constructor(genesis: Genesis) {
    this.raft = new MemoryStorage(bootstrapSnapshot(genesisConfState(genesis)));
    this.memoryState = new MemoryStateStore();
    const { appHash } = applyGenesis(this.memoryState, genesis);
    this.current = {
      height: 0,
      header: null,
      hash: new Uint8Array(32),
      time: genesis.time,
      appHash,
      appliedIndex: 0,
    };
  }

  get state(): StateStore {
    return this.memoryState;
  }

  persistRaft(persist: ReadyPersist): void {
    if (persist.snapshot !== null) this.raft.applySnapshot(persist.snapshot);
    this.raft.append(persist.entries);
    if (persist.hardState !== null) this.raft.setHardState(persist.hardState);
  }

  tip(): LedgerTip {
    return this.current;
  }

  dryRun<T>(fn: (state: StateStore) => T): T {
    return fn(this.memoryState.clone());
  }

  commitBlock(commit: CommitBlock): BlockOutcome {
    const header = commit.block.header;
    invariant(header.height === this.current.height + 1, "a committed block follows the tip");
    invariant(commit.raftIndex > this.current.appliedIndex, "the applied Raft index only grows");
    invariant(
      commit.txEncodings === undefined || commit.txEncodings.length === commit.block.txs.length,
      "one encoding per transaction",
    );
    const outcome = commit.apply(this.memoryState);
    this.blocks.push({ block: commit.block, encoded: commit.encoded });
    commit.block.txs.forEach((signed, txIndex) => {
      const id = commit.ids[txIndex] as Hash;
      const result = outcome.results[txIndex] as TxResult;
      const key = toHex(id);
      const earlier = this.txs.get(key);
      // One id may sit in several blocks (a forged copy first, a replay later): keep the authoritative row.
      if (earlier !== undefined && !AUTHENTICITY_CODES.has(earlier.result.code as ReasonCode)) return;
      const encoded = commit.txEncodings?.[txIndex] ?? encodeSignedTx(signed);
      this.txs.set(key, { id, height: header.height, txIndex, encoded, result });
    });
    this.current = {
      height: header.height,
      header,
      hash: commit.hash ?? blockHash(header),
      time: header.time,
      appHash: outcome.appHash,
      appliedIndex: commit.raftIndex,
    };
    return outcome;
  }

  markApplied(raftIndex: number): void {
    invariant(raftIndex > this.current.appliedIndex, "the applied Raft index only grows");
    this.current = { ...this.current, appliedIndex: raftIndex };
  }

  getBlock(height: number): { block: Block; encoded: Uint8Array } | null {
    return this.blocks[height - 1] ?? null;
  }

  getTx(id: Hash): CommittedTx | null {
    return this.txs.get(toHex(id)) ?? null;
  }
}
