/**
 * verifyChain: re-checks a node's whole chain database, read-only, from the genesis. For every stored
 * block in height order: it is present (no gap), its stored encoding decodes and is canonical, its
 * stored hash, header and signature columns agree with the encoding, it chains to the previous block
 * (verifyBlockStructure: chain, height, prev hash, time, Raft term and index, Merkle roots, the
 * proposer's signature and every transaction's signatures), and replaying it on a fresh in-memory
 * state (the genesis, then every block before it) gives the same results, result root and app hash
 * as its header; a transaction row locates each of its transactions. At the end, there is no other
 * transaction row, every Raft entry that gave its bytes up to a block has that block, and the applied
 * tip and the chain state agree with the last block. The first problem stops the check and names its
 * height.
 *
 * Limits: a node that installed a snapshot lacks the blocks it skipped until its back-fill has stored
 * them, and fails at the first missing height meanwhile; whether a block's proposer was the Raft leader
 * is not knowable from the chain.
 */
import {
  applyBlock,
  applyGenesis,
  type Block,
  type BlockHeader,
  blockHash,
  bytesEqual,
  computeResultRoot,
  decodeBlock,
  encodeBlock,
  encodeBlockHeader,
  encodeTxResult,
  type Genesis,
  type GenesisAnchor,
  type Hash,
  isProtocolError,
  limits,
  MemoryStateStore,
  parseGenesis,
  toHex,
  verifyBlockStructure,
} from "@medledger/protocol";
import { nodeVerifier } from "@medledger/protocol/node";
import { unpackBody } from "./storage/block-body.js";
import { type ChainDb, openChainDb } from "./storage/db.js";

/** What verifyChain checks: the chain database file and the genesis it must start from. */
export interface VerifyChainOptions {
  /** The chain database (a node's dataDir/chain.db); opened read-only. */
  readonly dbPath: string;
  readonly genesis: Genesis;
  /** Called after each verified block (for progress output). */
  readonly onBlock?: (height: number) => void;
}

/** The outcome: every block verified up to `height`, or the first bad height and what is wrong there. */
export type ChainVerification =
  | {
      readonly ok: true;
      /** The verified tip's height (0: only the genesis). */
      readonly height: number;
      readonly blockHash: string;
      readonly appHash: string;
      readonly txs: number;
    }
  | {
      readonly ok: false;
      /** The first height that fails (0: the genesis or the database itself). */
      readonly height: number;
      readonly problem: string;
    };

type BlockRow = {
  height: number;
  hash: Buffer;
  header: Buffer;
  sig: Buffer;
  tx_count: number;
  codec: number;
  encoded: Buffer;
};

/** A problem at one height (internal: becomes the failed ChainVerification). */
class ChainProblem extends Error {
  constructor(
    readonly height: number,
    message: string,
  ) {
    super(message);
  }
}

/** Re-checks the chain database at `options.dbPath` from `options.genesis`; never writes to it. */
export function verifyChain(options: VerifyChainOptions): ChainVerification {
  let db: ChainDb;
  try {
    db = openChainDb({ path: options.dbPath, readonly: true });
  } catch (error) {
    return { ok: false, height: 0, problem: `the chain database does not open: ${messageOf(error)}` };
  }
  try {
    return { ok: true, ...walk(db, options) };
  } catch (error) {
    if (error instanceof ChainProblem) return { ok: false, height: error.height, problem: error.message };
    return { ok: false, height: 0, problem: messageOf(error) };
  } finally {
    db.close();
  }
}

function walk(
  db: ChainDb,
  options: VerifyChainOptions,
): { height: number; blockHash: string; appHash: string; txs: number } {
  const genesis = parseGenesis(options.genesis);
  const stored = db.state.getChain();
  if (stored === null) throw new ChainProblem(0, "the database has no genesis");
  if (stored.chain !== genesis.chain || stored.genesisTime !== genesis.time) {
    throw new ChainProblem(
      0,
      `the database holds chain ${stored.chain}, not this genesis's ${genesis.chain}`,
    );
  }
  const state = new MemoryStateStore();
  let appHash = applyGenesis(state, genesis).appHash;
  let previous: BlockHeader | GenesisAnchor = { chain: genesis.chain, time: genesis.time };
  let hash: Hash = new Uint8Array(32);
  let height = 0;
  let txs = 0;
  const rows = db.sqlite
    .prepare("SELECT height, hash, header, sig, tx_count, codec, encoded FROM blocks ORDER BY height")
    .iterate() as IterableIterator<BlockRow>;
  const txRow = db.sqlite.prepare("SELECT 1 AS found FROM txs WHERE id = ? AND height = ? AND tx_index = ?");
  for (const row of rows) {
    const expected = height + 1;
    if (row.height !== expected) throw new ChainProblem(expected, `block ${expected} is missing`);
    const block = decodeStored(row);
    const ids = verifyStructure(block, previous, expected);
    appHash = replay(state, block, ids, appHash);
    ids.forEach((id, index) => {
      if (txRow.get(id, expected, index) === undefined) {
        throw new ChainProblem(
          expected,
          `block ${expected}: no transaction row locates transaction ${index}`,
        );
      }
    });
    previous = block.header;
    hash = new Uint8Array(row.hash);
    height = expected;
    txs += block.txs.length;
    options.onBlock?.(height);
  }
  const rowCount = (db.sqlite.prepare("SELECT count(*) AS n FROM txs").get() as { n: number }).n;
  if (rowCount !== txs) {
    throw new ChainProblem(
      height,
      `there are ${rowCount} transaction rows for the ${txs} transactions of the blocks`,
    );
  }
  const orphan = db.sqlite
    .prepare(
      `SELECT idx FROM raft_entries e WHERE data IS NULL
       AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.raft_index = e.idx) LIMIT 1`,
    )
    .get() as { idx: number } | undefined;
  if (orphan !== undefined) {
    throw new ChainProblem(
      height,
      `Raft entry ${orphan.idx} has no bytes and no block stored with its index`,
    );
  }
  checkTip(db, { height, hash, appHash });
  return { height, blockHash: toHex(hash), appHash: toHex(appHash), txs };
}

/** Decodes a stored block and checks the stored columns agree with its canonical encoding. */
function decodeStored(row: BlockRow): Block {
  const at = row.height;
  let block: Block;
  let encoded: Uint8Array;
  try {
    encoded = new Uint8Array(unpackBody(row.codec, new Uint8Array(row.encoded), limits.block_bytes_max));
    block = decodeBlock(encoded);
  } catch (error) {
    throw new ChainProblem(at, `block ${at}: its stored encoding does not decode: ${messageOf(error)}`);
  }
  if (!bytesEqual(encodeBlock(block), encoded)) {
    throw new ChainProblem(at, `block ${at}: its stored encoding is not canonical`);
  }
  if (block.header.height !== at) {
    throw new ChainProblem(at, `block ${at}: its header says height ${block.header.height}`);
  }
  if (!bytesEqual(blockHash(block.header), row.hash)) {
    throw new ChainProblem(at, `block ${at}: its stored hash is not the hash of its header`);
  }
  if (!bytesEqual(encodeBlockHeader(block.header), row.header)) {
    throw new ChainProblem(at, `block ${at}: its stored header differs from the block's`);
  }
  if (!bytesEqual(block.sig, row.sig) || block.txs.length !== row.tx_count) {
    throw new ChainProblem(at, `block ${at}: its stored signature or transaction count differs`);
  }
  return block;
}

function verifyStructure(block: Block, previous: BlockHeader | GenesisAnchor, at: number): Hash[] {
  try {
    return verifyBlockStructure(block, previous, nodeVerifier);
  } catch (error) {
    throw new ChainProblem(at, `block ${at}: ${messageOf(error)}`);
  }
}

/** Applies the block to the replayed state; its results and app hash must be the header's. */
function replay(state: MemoryStateStore, block: Block, ids: readonly Hash[], prevAppHash: Hash): Hash {
  const { header } = block;
  const at = header.height;
  let outcome: ReturnType<typeof applyBlock>;
  try {
    outcome = applyBlock(state, {
      chain: header.chain,
      height: at,
      time: header.time,
      prevAppHash,
      txs: block.txs.map((signed, index) => ({ signed, id: ids[index] as Hash })),
    });
  } catch (error) {
    throw new ChainProblem(at, `block ${at}: the replay fails: ${messageOf(error)}`);
  }
  outcome.results.forEach((result, index) => {
    const storedResult = block.results[index];
    if (storedResult === undefined || !bytesEqual(encodeTxResult(result), encodeTxResult(storedResult))) {
      throw new ChainProblem(at, `block ${at}: the replayed result of transaction ${index} differs`);
    }
  });
  if (!bytesEqual(computeResultRoot(outcome.results), header.resultRoot)) {
    throw new ChainProblem(at, `block ${at}: the replayed result root differs from the header's`);
  }
  if (!bytesEqual(outcome.appHash, header.appHash)) {
    throw new ChainProblem(at, `block ${at}: the replayed app hash differs from the header's`);
  }
  return outcome.appHash;
}

/** The applied tip and the chain state must be the last verified block's. */
function checkTip(db: ChainDb, last: { height: number; hash: Hash; appHash: Hash }): void {
  const tip = db.blocks.tip();
  const chain = db.state.getChain();
  const at = last.height;
  if (tip === null || chain === null) throw new ChainProblem(at, "the database has no applied tip");
  if (tip.height !== at || chain.height !== at) {
    throw new ChainProblem(at, `the applied tip is at height ${tip.height}, the last stored block at ${at}`);
  }
  if (at > 0 && !bytesEqual(tip.blockHash, last.hash)) {
    throw new ChainProblem(at, `the applied tip's block hash is not block ${at}'s`);
  }
  if (!bytesEqual(tip.appHash, last.appHash) || !bytesEqual(chain.appHash, last.appHash)) {
    throw new ChainProblem(at, `the stored app hash at height ${at} differs from the replayed one`);
  }
}

function messageOf(error: unknown): string {
  if (isProtocolError(error))
    return `${error.code}: ${error.message}${error.field ? ` (${error.field})` : ""}`;
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
