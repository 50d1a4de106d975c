/**
 * Blocks, transactions and the applied tip. applyCommittedBlock() is the exactly-once apply of a
 * committed block: in ONE SQLite transaction it runs the caller's rules over the state store, inserts
 * the block (its canonical encoding compressed: block-body.ts) and where each transaction sits, hands
 * the bytes of the Raft entry that carried it over to the stored block, and records the applied Raft
 * index, so a crash leaves all of it or none of it; a block at or below the applied Raft index is
 * skipped. A transaction's encoding and result are sliced from its block when asked for.
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
import {
  block_body_cache_bytes_max,
  block_body_cache_entries_max,
  blocks_range_bytes_max,
  blocks_range_max,
  tx_copies_max,
} from "../limits.js";
import { type BlockLayout, blockLayout, packBody, unpackBody } from "./block-body.js";
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
  insertBlock: `INSERT INTO blocks (height, hash, header, sig, time, tx_count, raft_index, codec, encoded)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  insertTx: "INSERT INTO txs (id, height, tx_index) VALUES (?, ?, ?)",
  // Delete then insert (not UPDATE): the leaf pages that held the entry's bytes are rebalanced and freed.
  dropEntry: "DELETE FROM raft_entries WHERE idx = ? AND type = 0 AND data = ? RETURNING term",
  putReleasedEntry: "INSERT INTO raft_entries (idx, term, type, data) VALUES (?, ?, 0, NULL)",
  bodyByHeight: "SELECT height, codec, encoded FROM blocks WHERE height = ?",
  blockByHeight: "SELECT height, codec, encoded, hash, raft_index FROM blocks WHERE height = ?",
  blockByHash: "SELECT height, codec, encoded, hash, raft_index FROM blocks WHERE hash = ?",
  blockRange: `SELECT height, codec, encoded, hash, raft_index FROM blocks WHERE height >= ? AND height <= ?
    ORDER BY height LIMIT ?`,
  headerByHeight: "SELECT header, hash FROM blocks WHERE height = ?",
  headerRange: `SELECT height, hash, header, tx_count, raft_index FROM blocks WHERE height >= ? AND height <= ?
    ORDER BY height LIMIT ?`,
  blockExists: "SELECT 1 AS found FROM blocks WHERE height = ? OR hash = ?",
  heightStored: "SELECT 1 AS found FROM blocks WHERE height = ?",
  // The smallest index covers the rowid: counting reads no block bodies.
  blockCount: "SELECT COUNT(*) AS n FROM blocks INDEXED BY blocks_by_raft_index",
  gapTop: `SELECT height - 1 AS missing FROM blocks b WHERE height <= ? AND height > 1
    AND NOT EXISTS (SELECT 1 FROM blocks c WHERE c.height = b.height - 1) ORDER BY height DESC LIMIT 1`,
  storedBelow: "SELECT MAX(height) AS height FROM blocks WHERE height < ?",
  bodiesDown:
    "SELECT height, codec, encoded FROM blocks WHERE height <= ? AND height >= ? ORDER BY height DESC",
  txById: `SELECT height, tx_index FROM txs WHERE id = ? ORDER BY height, tx_index LIMIT ${tx_copies_max}`,
  tip: "SELECT raft_index, height, block_hash, app_hash FROM applied WHERE id = 0",
  putTip: `INSERT INTO applied (id, raft_index, height, block_hash, app_hash) VALUES (0, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET raft_index = excluded.raft_index, height = excluded.height,
    block_hash = excluded.block_hash, app_hash = excluded.app_hash`,
  markApplied: "UPDATE applied SET raft_index = ? WHERE id = 0 AND raft_index < ?",
} as const;

type Statements = { -readonly [K in keyof typeof SQL]: Database.Statement };
type BodyRow = { height: number; codec: number; encoded: Buffer };
type BlockRow = BodyRow & { hash: Buffer; raft_index: number };

/** A block header without its body: what a page of headers lists. */
export interface StoredHeader {
  readonly header: BlockHeader;
  readonly hash: Hash;
  readonly txCount: number;
  readonly raftIndex: number;
}

const ROLLBACK = Symbol("rollback");

/** A block's canonical encoding in memory, with where its parts lie once asked for. */
interface CachedBody {
  readonly encoded: Uint8Array;
  layout: BlockLayout | null;
}

/**
 * The canonical encodings of recent blocks (least recently used first out), so that a transaction
 * read soon after its commit, or a block sent to several followers, is not decompressed again. Only
 * committed blocks enter it: bodies read inside a transaction (which may roll back) are not kept.
 */
class BodyCache {
  private readonly entries = new Map<number, CachedBody>();
  private bytes = 0;

  get(height: number): CachedBody | undefined {
    const entry = this.entries.get(height);
    if (entry !== undefined) {
      this.entries.delete(height);
      this.entries.set(height, entry);
    }
    return entry;
  }

  put(height: number, entry: CachedBody): void {
    const size = entry.encoded.byteLength;
    if (size > block_body_cache_bytes_max) return;
    const old = this.entries.get(height);
    if (old !== undefined) {
      this.entries.delete(height);
      this.bytes -= old.encoded.byteLength;
    }
    this.entries.set(height, entry);
    this.bytes += size;
    while (this.entries.size > block_body_cache_entries_max || this.bytes > block_body_cache_bytes_max) {
      const oldest = this.entries.entries().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value[0]);
      this.bytes -= oldest.value[1].encoded.byteLength;
    }
  }
}

/** Blocks, transactions and the applied tip over the chain database. */
export class BlockStore {
  private readonly statements: Statements;
  private readonly bodies = new BodyCache();

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
    return this.scoped(() => {
      if (this.tip() !== null || this.state.getChain() !== null) {
        throw new NodeError("NOT_EMPTY", "the chain database already has a genesis");
      }
      const value = apply(this.state);
      const chain = this.state.getChain();
      invariant(chain !== null && chain.height === 0, "the genesis sets the chain state at height 0");
      this.statements.putTip.run(0, 0, GENESIS_PREV_HASH, chain.appHash);
      return value;
    });
  }

  /**
   * Runs `fn` in one transaction inside a scope of the state store's read caches, closed with the
   * transaction's fate (committed, or rolled back by a throw).
   */
  private scoped<T>(fn: () => T): T {
    this.state.openScope();
    let committed = false;
    try {
      const value = this.sqlite.transaction(fn)();
      committed = true;
      return value;
    } finally {
      this.state.closeScope(committed);
    }
  }

  /**
   * Stores blocks below the tip that an installed snapshot skipped (no state change, no tip change), all
   * in one transaction: history checked by the caller down the hash chain from a stored block.
   */
  appendBlocks(inputs: readonly BlockToStore[]): void {
    guard(() =>
      this.sqlite.transaction(() => {
        for (const input of inputs) this.insertBlock(input);
      })(),
    );
  }

  /**
   * The highest run of missing heights in [1, top], as [low, high], or null when every height up to
   * `top` holds a block (the stored blocks never pass the tip, so a count settles the common case).
   */
  highestGap(top: number): { low: number; high: number } | null {
    return guard(() => {
      if (top <= 0) return null;
      const topStored = this.statements.heightStored.get(top) !== undefined;
      const { n } = this.statements.blockCount.get() as { n: number };
      if (topStored && n === top) return null;
      let high = top;
      if (topStored) {
        const row = this.statements.gapTop.get(top) as { missing: number } | undefined;
        if (row === undefined) return null;
        high = row.missing;
      }
      const below = this.statements.storedBelow.get(high) as { height: number | null };
      return { low: (below.height ?? 0) + 1, high };
    });
  }

  /**
   * The canonical encodings of the stored blocks from `top` down, contiguous (stopping before the first
   * missing height): at most `count` blocks and blocks_range_bytes_max bytes (at least one block when
   * `top` is stored). What a peer back-filling its history asks for.
   */
  encodedDown(top: number, count: number): Uint8Array[] {
    const wanted = Math.max(0, Math.min(count, blocks_range_max));
    if (wanted === 0 || top < 1) return [];
    const rows = guard(() => this.statements.bodiesDown.all(top, top - wanted + 1)) as BodyRow[];
    const out: Uint8Array[] = [];
    let total = 0;
    for (const [at, row] of rows.entries()) {
      if (row.height !== top - at) break;
      // Not through the body cache: a peer's old blocks would push the recent ones out.
      const encoded = unpackBody(row.codec, bytes(row.encoded), protocolLimits.block_bytes_max);
      total += encoded.byteLength;
      if (out.length > 0 && total > blocks_range_bytes_max) break;
      out.push(encoded);
    }
    return out;
  }

  /**
   * The exactly-once apply of a committed block, in ONE transaction: skipped when `raftIndex` is not
   * after the applied index; else the block must follow the tip (BLOCK_NOT_NEXT), `apply` runs over
   * the state, the resulting app hash must equal the header's (APP_HASH_MISMATCH), then the block, its
   * transactions' locations and the new tip are written, and the Raft entry that carried the block
   * (when it holds exactly these bytes) gives its copy up to the stored block. Any throw rolls
   * everything back.
   */
  applyCommittedBlock<T>(input: CommittedBlock<T>): ApplyOutcome<T> {
    const outcome = guard(() => this.apply(input));
    if (outcome.applied) this.bodies.put(input.block.header.height, { encoded: input.encoded, layout: null });
    return outcome;
  }

  private apply<T>(input: CommittedBlock<T>): ApplyOutcome<T> {
    return this.scoped((): ApplyOutcome<T> => {
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
      this.releaseEntry(input.raftIndex, input.encoded);
      this.statements.putTip.run(input.raftIndex, header.height, hash, chain.appHash);
      return { applied: true, value };
    });
  }

  /**
   * The Raft entry at `raftIndex` gives its bytes up to the block just stored, when it holds exactly
   * `encoded` (a committed entry: never replaced). Its reads then come from the block.
   */
  private releaseEntry(raftIndex: number, encoded: Uint8Array): void {
    const dropped = this.statements.dropEntry.get(raftIndex, encoded) as { term: number } | undefined;
    if (dropped !== undefined) this.statements.putReleasedEntry.run(raftIndex, dropped.term);
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
      this.scoped(() => {
        value = fn(this.state);
        throw ROLLBACK;
      });
    } catch (error) {
      if (error !== ROLLBACK) throw error;
    }
    return value as T;
  }

  /** The block at `height`, or null. */
  blockAt(height: number): StoredBlock | null {
    const row = guard(() => this.statements.blockByHeight.get(height)) as BlockRow | undefined;
    return row === undefined ? null : this.storedBlock(row);
  }

  /** The block whose header hashes to `hash`, or null. */
  blockByHash(hash: Hash): StoredBlock | null {
    const row = guard(() => this.statements.blockByHash.get(hash)) as BlockRow | undefined;
    return row === undefined ? null : this.storedBlock(row);
  }

  /**
   * Stored blocks with heights in [from, to], in order: at most blocks_range_max blocks and
   * blocks_range_bytes_max bytes of encodings (always at least one block when one exists).
   */
  blockRange(from: number, to: number): StoredBlock[] {
    const rows = guard(() => this.statements.blockRange.all(from, to, blocks_range_max)) as BlockRow[];
    const out: StoredBlock[] = [];
    let total = 0;
    for (const row of rows) {
      const encoded = this.body(row).encoded;
      total += encoded.byteLength;
      if (out.length > 0 && total > blocks_range_bytes_max) break;
      out.push({ block: decodeBlock(encoded), encoded, hash: bytes(row.hash), raftIndex: row.raft_index });
    }
    return out;
  }

  /** The header and hash of the block at `height` (without reading its body), or null. */
  headerAt(height: number): { header: BlockHeader; hash: Hash } | null {
    const row = guard(() => this.statements.headerByHeight.get(height)) as
      | { header: Buffer; hash: Buffer }
      | undefined;
    return row === undefined ? null : { header: decodeBlockHeader(bytes(row.header)), hash: bytes(row.hash) };
  }

  /**
   * The headers of the stored blocks with heights in [from, to], in order (at most blocks_range_max),
   * without reading their bodies: a page of headers.
   */
  headerRange(from: number, to: number): StoredHeader[] {
    const rows = guard(() => this.statements.headerRange.all(from, to, blocks_range_max)) as Array<{
      height: number;
      hash: Buffer;
      header: Buffer;
      tx_count: number;
      raft_index: number;
    }>;
    return rows.map((row) => ({
      header: decodeBlockHeader(bytes(row.header)),
      hash: bytes(row.hash),
      txCount: row.tx_count,
      raftIndex: row.raft_index,
    }));
  }

  /**
   * The canonical encoding of a stored block from its row (height, codec, encoded), through the cache
   * of recent blocks: how the Raft storage reads the entry of an applied block.
   */
  unpack(row: { height: number; codec: number; encoded: Uint8Array }): Uint8Array {
    return this.body(row as BodyRow).encoded;
  }

  /**
   * The committed transaction `id` with its height, index and result, or null. One id may sit in
   * several blocks (a forged copy rejected without consuming it, a replay rejected after it): the
   * answer is the first row that is not an inauthentic copy, else the latest row. Its encoding and
   * result are sliced from the block; the signed transaction is decoded only when asked for.
   */
  tx(id: Hash): StoredTx | null {
    const rows = guard(() => this.statements.txById.all(id)) as Array<{ height: number; tx_index: number }>;
    let chosen: StoredTx | null = null;
    for (const row of rows) {
      const cached = this.bodyAt(row.height);
      if (cached === null) throw corrupt(`transaction row at height ${row.height} has no block`);
      const layout = this.layoutOf(cached);
      const index = row.tx_index;
      if (2 * index + 1 >= layout.txs.length) {
        throw corrupt(`block ${row.height} has no transaction ${index}`);
      }
      const { encoded } = cached;
      const txBytes = encoded.slice(layout.txs[2 * index], layout.txs[2 * index + 1]);
      const result = decodeTxResult(
        encoded.subarray(layout.results[2 * index], layout.results[2 * index + 1]),
      );
      chosen = lazyTx({
        id: new Uint8Array(id),
        encoded: txBytes,
        height: row.height,
        txIndex: index,
        result,
      });
      if (!AUTHENTICITY_CODES.has(result.code as ReasonCode)) return chosen;
    }
    return chosen;
  }

  private storedBlock(row: BlockRow): StoredBlock {
    const encoded = this.body(row).encoded;
    return { block: decodeBlock(encoded), encoded, hash: bytes(row.hash), raftIndex: row.raft_index };
  }

  private bodyAt(height: number): CachedBody | null {
    const cached = this.bodies.get(height);
    if (cached !== undefined) return cached;
    const row = this.statements.bodyByHeight.get(height) as BodyRow | undefined;
    return row === undefined ? null : this.body(row);
  }

  /** The decompressed body of `row`, from the cache or the row (cached unless inside a transaction). */
  private body(row: BodyRow): CachedBody {
    const cached = this.bodies.get(row.height);
    if (cached !== undefined) return cached;
    const encoded = unpackBody(row.codec, bytes(row.encoded), protocolLimits.block_bytes_max);
    const entry: CachedBody = { encoded, layout: null };
    if (!this.sqlite.inTransaction) this.bodies.put(row.height, entry);
    return entry;
  }

  private layoutOf(cached: CachedBody): BlockLayout {
    if (cached.layout === null) cached.layout = blockLayout(cached.encoded);
    return cached.layout;
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
    const packed = packBody(encoded);
    this.statements.insertBlock.run(
      header.height,
      hash,
      encodeBlockHeader(header),
      block.sig,
      header.time,
      block.txs.length,
      input.raftIndex,
      packed.codec,
      packed.body,
    );
    const ids = input.ids;
    invariant(ids === undefined || ids.length === block.txs.length, "one id per transaction");
    for (let index = 0; index < block.txs.length; index++) {
      const id = ids?.[index] ?? txId((block.txs[index] as SignedTx).tx);
      this.statements.insertTx.run(id, header.height, index);
    }
    return hash;
  }
}

/** A StoredTx whose signed transaction is decoded on first use. */
function lazyTx(parts: Omit<StoredTx, "signed">): StoredTx {
  let signed: SignedTx | null = null;
  return {
    ...parts,
    get signed(): SignedTx {
      if (signed === null) signed = decodeSignedTx(parts.encoded);
      return signed;
    },
  };
}

function corrupt(message: string): NodeError {
  return new NodeError("STORAGE_CORRUPT", `chain database: ${message}`);
}
