/**
 * The LedgerStore of a real node: one SQLite chain database (Raft log, blocks, transactions, state).
 * Opening it applies the genesis to an empty database, or checks that a used one belongs to the chain.
 */
import { bootstrapSnapshot } from "@medledger/consensus";
import {
  applyGenesis,
  type Block,
  type BlockOutcome,
  blockHash,
  bytesEqual,
  GENESIS_PREV_HASH,
  type Genesis,
  type Hash,
  type StateStore,
} from "@medledger/protocol";
import { invariant, NodeError } from "../errors.js";
import type { ChainDb } from "../storage/db.js";
import type { SqliteRaftStorage } from "../storage/raft-storage.js";
import { encodeSnapshotData } from "./snapshot-data.js";
import {
  type CommitBlock,
  type CommittedTx,
  genesisConfState,
  type LedgerHistory,
  type LedgerSnapshots,
  type LedgerStore,
  type LedgerTip,
  type ReadyPersist,
} from "./store.js";

/** A LedgerStore over an open ChainDb. */
export class SqliteLedgerStore implements LedgerStore {
  readonly raft: SqliteRaftStorage;
  private current: LedgerTip;

  /** Opens the ledger of `genesis` in `db`: applies the genesis if the database is new. */
  constructor(
    readonly db: ChainDb,
    genesis: Genesis,
  ) {
    if (db.blocks.tip() === null) db.blocks.applyGenesisState((state) => applyGenesis(state, genesis));
    const chain = db.state.getChain();
    invariant(chain !== null, "an opened ledger has a genesis");
    if (chain.chain !== genesis.chain || chain.genesisTime !== genesis.time) {
      throw new NodeError(
        "OPTIONS_INVALID",
        `the database holds chain ${chain.chain} (genesis ${chain.genesisTime}), not ${genesis.chain} (genesis ${genesis.time})`,
      );
    }
    this.raft = db.raftStorage({ bootstrap: bootstrapSnapshot(genesisConfState(genesis)) });
    this.current = this.readTip();
  }

  readonly snapshots: LedgerSnapshots = {
    take: (confState) => {
      const tip = this.current;
      const data = encodeSnapshotData({ ...tip, blockHash: tip.hash });
      return this.raft.createSnapshot(tip.appliedIndex, confState, data);
    },
    exportState: () => {
      const exported = this.db.exportState();
      const tip = exported.tip;
      invariant(tip !== null, "an exported ledger has a tip");
      return { tip, next: () => exported.next(), close: () => exported.close() };
    },
    importState: (chunks, tip) => {
      this.db.importState(chunks, tip, { replace: true });
      this.current = this.readTip();
    },
  };

  readonly history: LedgerHistory = {
    gap: () => {
      const tip = this.current;
      const gap = this.db.blocks.highestGap(tip.height);
      if (gap === null) return null;
      const above = gap.high === tip.height ? null : this.db.blocks.headerAt(gap.high + 1);
      invariant(gap.high === tip.height || above !== null, "a block follows every gap below the tip");
      const below = gap.low === 1 ? null : this.db.blocks.headerAt(gap.low - 1);
      invariant(gap.low === 1 || below !== null, "a block precedes every gap above height 1");
      return {
        ...gap,
        anchor: above === null ? tip.hash : above.header.prev,
        raftIndexAbove: above === null ? tip.appliedIndex + 1 : above.header.raftIndex,
        prevBelow: below === null ? GENESIS_PREV_HASH : below.hash,
        raftIndexBelow: below === null ? 0 : below.header.raftIndex,
      };
    },
    encodedDown: (top, count) => this.db.blocks.encodedDown(top, count),
    fill: (blocks) => {
      this.db.blocks.appendBlocks(
        blocks.map(({ block, encoded, hash, ids }) => ({
          block,
          encoded,
          hash,
          ids,
          raftIndex: block.header.raftIndex,
        })),
      );
      const tipBlock = blocks.find(({ block }) => block.header.height === this.current.height);
      if (tipBlock !== undefined) this.current = { ...this.current, header: tipBlock.block.header };
    },
  };

  get state(): StateStore {
    return this.db.state;
  }

  persistRaft(persist: ReadyPersist): void {
    this.raft.persist({
      ...(persist.hardState === null ? {} : { hardState: persist.hardState }),
      entries: persist.entries,
      ...(persist.snapshot === null ? {} : { snapshot: persist.snapshot }),
    });
  }

  tip(): LedgerTip {
    return this.current;
  }

  dryRun<T>(fn: (state: StateStore) => T): T {
    return this.db.blocks.dryRun(fn);
  }

  commitBlock(commit: CommitBlock): BlockOutcome {
    const hash = commit.hash ?? blockHash(commit.block.header);
    const outcome = this.db.blocks.applyCommittedBlock({
      block: commit.block,
      encoded: commit.encoded,
      raftIndex: commit.raftIndex,
      ids: commit.ids,
      hash,
      apply: commit.apply,
    });
    invariant(outcome.applied, "a committed block is applied exactly once");
    // The tip is the block just committed: nothing is read back.
    const header = commit.block.header;
    this.current = {
      height: header.height,
      header,
      hash,
      time: header.time,
      appHash: outcome.value.appHash,
      appliedIndex: commit.raftIndex,
    };
    return outcome.value;
  }

  markApplied(raftIndex: number): void {
    this.db.blocks.markApplied(raftIndex);
    this.current = { ...this.current, appliedIndex: raftIndex };
  }

  getBlock(height: number): { block: Block; encoded: Uint8Array } | null {
    const stored = this.db.blocks.blockAt(height);
    return stored === null ? null : { block: stored.block, encoded: stored.encoded };
  }

  getTx(id: Hash): CommittedTx | null {
    const stored = this.db.blocks.tx(id);
    if (stored === null) return null;
    const { height, txIndex, encoded, result } = stored;
    return { id: stored.id, height, txIndex, encoded, result };
  }

  /** Re-reads the tip after the database changed underneath (e.g. a state import). */
  refreshTip(): void {
    this.current = this.readTip();
  }

  private readTip(): LedgerTip {
    const tip = this.db.blocks.tip();
    const chain = this.db.state.getChain();
    invariant(tip !== null && chain !== null, "the ledger has a genesis");
    invariant(
      tip.height === chain.height && bytesEqual(tip.appHash, chain.appHash),
      "the tip and the state agree",
    );
    const stored = tip.height === 0 ? null : this.db.blocks.headerAt(tip.height);
    // After a state import the tip's block is not stored here until the back-fill brings it.
    return {
      height: tip.height,
      header: stored === null ? null : stored.header,
      hash: tip.blockHash,
      time: chain.time,
      appHash: tip.appHash,
      appliedIndex: tip.appliedIndex,
    };
  }
}
