/**
 * Blocks, transactions and the applied tip. applyCommittedBlock() is the exactly-once apply of a
 * committed block: in ONE SQLite transaction it runs the caller's rules over the state store, inserts
 * the block and its transactions with their results, and records the applied Raft index, so a crash
 * leaves all of it or none of it; a block at or below the applied Raft index is skipped.
 */
import {
  AUTHENTICITY_CODES,
  type Block,
  type BlockHeader,
  blockHash,
  bytesEqual,
  decodeBlock,
  decodeBlockHeader,
  decodeSignedTx,
  decodeTxResult,
  encodeBlockHeader,
  encodeSignedTx,
  encodeTxResult,
  GENESIS_PREV_HASH,
  type Hash,
  limits as protocolLimits,
  type ReasonCode,
  type SignedTx,
  type TxResult,
  txId,
} from "@medledger/protocol";
import type Database from "better-sqlite3";
import { invariant, NodeError } from "../errors.js";
import { blocks_range_bytes_max, blocks_range_max, tx_copies_max } from "../limits.js";
import { bytes, guard } from "./sql.js";
import type { SqliteStateStore } from "./state-store.js";
import type { Tip } from "./state-sync.js";

/** A stored block: the decoded block, its canonical encoding, its hash and the Raft index that carried it. */
export interface StoredBlock {
  readonly block: Block;
  readonly encoded: Uint8Array;
  readonly hash: Hash;
  readonly raftIndex: number;
}

/** A stored transaction with where it sits and its result. */
export interface StoredTx {
  readonly id: Hash;
  readonly signed: SignedTx;
  /** The canonical encoding of the signed transaction. */
  readonly encoded: Uint8Array;
  readonly height: number;
  readonly txIndex: number;
  readonly result: TxResult;
}

/** A block to store: the block, its canonical encoding and the Raft index of the entry that carried it. */
export interface BlockToStore {
  readonly block: Block;
  readonly encoded: Uint8Array;
  readonly raftIndex: number;
  /** The transaction ids in block order, when the caller has them (else they are computed). */
  readonly ids?: readonly Hash[];
  /** The canonical encodings of the signed transactions in block order, when the caller has them. */
  readonly txEncodings?: readonly Uint8Array[];
  /** The header's hash, when the caller has it (else it is computed). */
  readonly hash?: Hash;
}

/** A committed block to apply, and the rules to run over the state (e.g. the protocol's applyBlock). */
export interface CommittedBlock<T> extends BlockToStore {
  /** Runs the rules over `store`; throwing rolls everything back. */
  readonly apply: (store: SqliteStateStore) => T;
}

/** The outcome of applyCommittedBlock: applied with the rules' value, or skipped as already applied. */
export type ApplyOutcome<T> = { readonly applied: true; readonly value: T } | { readonly applied: false };

const SQL = {
  insertBlock: `INSERT INTO blocks (height, hash, header, sig, time, tx_count, raft_index, encoded)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  insertTx: "INSERT INTO txs (id, height, tx_index, signed, result) VALUES (?, ?, ?, ?, ?)",
  blockByHeight: "SELECT encoded, hash, raft_index FROM blocks WHERE height = ?",
  blockByHash: "SELECT encoded, hash, raft_index FROM blocks WHERE hash = ?",
  headerByHeight: "SELECT header, hash FROM blocks WHERE height = ?",
  blockRange: `SELECT encoded, hash, raft_index FROM blocks WHERE height >= ? AND height <= ?
    ORDER BY height LIMIT ?`,
  blockExists: "SELECT 1 AS found FROM blocks WHERE height = ? OR hash = ?",
  txById: `SELECT id, height, tx_index, signed, result FROM txs WHERE id = ?
    ORDER BY height, tx_index LIMIT ${tx_copies_max}`,
  tip: "SELECT raft_index, height, block_hash, app_hash FROM applied WHERE id = 0",
  putTip: `INSERT INTO applied (id, raft_index, height, block_hash, app_hash) VALUES (0, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET raft_index = excluded.raft_index, height = excluded.height,
    block_hash = excluded.block_hash, app_hash = excluded.app_hash`,
  markApplied: "UPDATE applied SET raft_index = ? WHERE id = 0 AND raft_index < ?",
} as const;

type Statements = { -readonly [K in keyof typeof SQL]: Database.Statement };
type BlockRow = { encoded: Buffer; hash: Buffer; raft_index: number };

const ROLLBACK = Symbol("rollback");

/** Blocks, transactions and the applied tip over the chain database. */
export class BlockStore {
  private readonly statements: Statements;

  /** Prepares every statement over `sqlite`; `state` is the store the rules run over. */
  constructor(
    private readonly sqlite: Database.Database,
    private readonly state: SqliteStateStore,
  ) {
    const out: Partial<Statements> = {};
    for (const name of Object.keys(SQL) as Array<keyof typeof SQL>) out[name] = sqlite.prepare(SQL[name]);
    this.statements = out as Statements;
  }

  /** The applied tip: height, block hash, app hash and applied Raft index; null before genesis. */
  tip(): Tip | null {
    const row = this.statements.tip.get() as
      | { raft_index: number; height: number; block_hash: Buffer; app_hash: Buffer }
      | undefined;
    if (row === undefined) return null;
    return {
      height: row.height,
      blockHash: bytes(row.block_hash),
      appHash: bytes(row.app_hash),
      appliedIndex: row.raft_index,
    };
  }

  /**
   * Applies the genesis to the empty state in one transaction: runs `apply` (the protocol's
   * applyGenesis) and records the tip at height 0 (Raft index 0, block hash GENESIS_PREV_HASH).
   */
  applyGenesisState<T>(apply: (store: SqliteStateStore) => T): T {
    return guard(() => this.genesis(apply));
  }

  private genesis<T>(apply: (store: SqliteStateStore) => T): T {
    return this.sqlite.transaction(() => {
      if (this.tip() !== null || this.state.getChain() !== null) {
        throw new NodeError("NOT_EMPTY", "the chain database already has a genesis");
      }
      const value = apply(this.state);
      const chain = this.state.getChain();
      invariant(chain !== null && chain.height === 0, "the genesis sets the chain state at height 0");
      this.statements.putTip.run(0, 0, GENESIS_PREV_HASH, chain.appHash);
      return value;
    })();
  }

  /** Stores a block and its transactions (no state change, no tip change), in one transaction. */
  appendBlock(input: BlockToStore): Hash {
    return guard(() => this.sqlite.transaction(() => this.insertBlock(input))());
  }

  /**
   * The exactly-once apply of a committed block, in ONE transaction: skipped when `raftIndex` is not
   * after the applied index; else the block must follow the tip (BLOCK_NOT_NEXT), `apply` runs over
   * the state, the resulting app hash must equal the header's (APP_HASH_MISMATCH), then the block, its
   * transactions with their results and the new tip are written. Any throw rolls everything back.
   */
  applyCommittedBlock<T>(input: CommittedBlock<T>): ApplyOutcome<T> {
    return guard(() => this.apply(input));
  }

  private apply<T>(input: CommittedBlock<T>): ApplyOutcome<T> {
    return this.sqlite.transaction((): ApplyOutcome<T> => {
      const tip = this.tip();
      if (tip === null) throw new NodeError("BLOCK_NOT_NEXT", "the chain database has no genesis");
      if (input.raftIndex <= tip.appliedIndex) return { applied: false };
      const header = input.block.header;
      if (header.height !== tip.height + 1 || !bytesEqual(header.prev, tip.blockHash)) {
        throw new NodeError("BLOCK_NOT_NEXT", `block ${header.height} does not follow the tip ${tip.height}`);
      }
      const value = input.apply(this.state);
      const chain = this.state.getChain();
      invariant(chain !== null && chain.height === header.height, "the rules moved the state to the block");
      if (!bytesEqual(chain.appHash, header.appHash)) {
        throw new NodeError("APP_HASH_MISMATCH", `block ${header.height}: the state's app hash differs`);
      }
      const hash = this.insertBlock(input);
      this.statements.putTip.run(input.raftIndex, header.height, hash, chain.appHash);
      return { applied: true, value };
    })();
  }

  /** Records that Raft entries up to `raftIndex` are applied (entries that carry no block). */
  markApplied(raftIndex: number): void {
    const tip = this.tip();
    invariant(tip !== null, "markApplied after genesis");
    if (raftIndex <= tip.appliedIndex) return;
    guard(() => this.statements.markApplied.run(raftIndex, raftIndex));
  }

  /** Runs `fn` over the state and rolls every write back (a leader computing a block's results). */
  dryRun<T>(fn: (store: SqliteStateStore) => T): T {
    let value: T | undefined;
    try {
      this.sqlite.transaction(() => {
        value = fn(this.state);
        throw ROLLBACK;
      })();
    } catch (error) {
      if (error !== ROLLBACK) throw error;
    }
    return value as T;
  }

  /** The block at `height`, or null. */
  blockAt(height: number): StoredBlock | null {
    const row = this.statements.blockByHeight.get(height) as BlockRow | undefined;
    return row === undefined ? null : storedBlock(row);
  }

  /** The header and hash of the block at `height` (without reading its body), or null. */
  headerAt(height: number): { header: BlockHeader; hash: Hash } | null {
    const row = this.statements.headerByHeight.get(height) as { header: Buffer; hash: Buffer } | undefined;
    return row === undefined ? null : { header: decodeBlockHeader(bytes(row.header)), hash: bytes(row.hash) };
  }

  /** The block whose header hashes to `hash`, or null. */
  blockByHash(hash: Hash): StoredBlock | null {
    const row = this.statements.blockByHash.get(hash) as BlockRow | undefined;
    return row === undefined ? null : storedBlock(row);
  }

  /**
   * Stored blocks with heights in [from, to], in order: at most blocks_range_max blocks and
   * blocks_range_bytes_max bytes of encodings (always at least one block when one exists).
   */
  blockRange(from: number, to: number): StoredBlock[] {
    const out: StoredBlock[] = [];
    let total = 0;
    for (const raw of this.statements.blockRange.iterate(from, to, blocks_range_max)) {
      const row = raw as BlockRow;
      total += row.encoded.byteLength;
      if (out.length > 0 && total > blocks_range_bytes_max) break;
      out.push(storedBlock(row));
    }
    return out;
  }

  /**
   * The committed transaction `id` with its height, index and result, or null. One id may sit in
   * several blocks (a forged copy rejected without consuming it, a replay rejected after it): the
   * answer is the first row that is not an inauthentic copy, else the latest row.
   */
  tx(id: Hash): StoredTx | null {
    const rows = this.statements.txById.all(id) as Array<{
      id: Buffer;
      height: number;
      tx_index: number;
      signed: Buffer;
      result: Buffer;
    }>;
    let chosen: StoredTx | null = null;
    for (const row of rows) {
      const encoded = bytes(row.signed);
      chosen = {
        id: bytes(row.id),
        signed: decodeSignedTx(encoded),
        encoded,
        height: row.height,
        txIndex: row.tx_index,
        result: decodeTxResult(bytes(row.result)),
      };
      if (!AUTHENTICITY_CODES.has(chosen.result.code as ReasonCode)) return chosen;
    }
    return chosen;
  }

  private insertBlock(input: BlockToStore): Hash {
    const { block, encoded } = input;
    const header = block.header;
    invariant(
      encoded.byteLength <= protocolLimits.block_bytes_max,
      "an encoded block is within block_bytes_max",
    );
    invariant(block.txs.length === block.results.length, "a block has one result per transaction");
    const hash = input.hash ?? blockHash(header);
    if (this.statements.blockExists.get(header.height, hash) !== undefined) {
      throw new NodeError("BLOCK_NOT_NEXT", `a block at height ${header.height} or with its hash is stored`);
    }
    this.statements.insertBlock.run(
      header.height,
      hash,
      encodeBlockHeader(header),
      block.sig,
      header.time,
      block.txs.length,
      input.raftIndex,
      encoded,
    );
    const { ids, txEncodings } = input;
    invariant(ids === undefined || ids.length === block.txs.length, "one id per transaction");
    invariant(
      txEncodings === undefined || txEncodings.length === block.txs.length,
      "one encoding per transaction",
    );
    block.txs.forEach((signed, index) => {
      const id = ids?.[index] ?? txId(signed.tx);
      const result = block.results[index] as TxResult;
      const encodedTx = txEncodings?.[index] ?? encodeSignedTx(signed);
      this.statements.insertTx.run(id, header.height, index, encodedTx, encodeTxResult(result));
    });
    return hash;
  }
}

function storedBlock(row: BlockRow): StoredBlock {
  const encoded = bytes(row.encoded);
  return { block: decodeBlock(encoded), encoded, hash: bytes(row.hash), raftIndex: row.raft_index };
}
