/**
 * Blocks: the header's canonical encoding and hash, the proposer's signature over
 * utf8("medledger/block/v1\n") || blockHash, transaction results, whole blocks, their Merkle roots
 * (txRoot over the signed transactions' encodings, resultRoot over the results' encodings), the
 * structural check a follower runs before acknowledging, and the JSON view. The app hash is the
 * rules engine's; this module only carries it.
 */
import { bytesEqual, compareBytes, concatBytes, fromHex, sha256, toHex, utf8 } from "./bytes.js";
import { didToPublicKey, parseDid } from "./did.js";
import {
  cborArrayItems,
  cborMapEntries,
  cborMapValue,
  checkCanonical,
  decodeCanonical,
  decodeValidated,
  encodeCanonical,
  readBoolean,
  readFixedBytes,
  readList,
  readMap,
  readText,
  readUint,
} from "./encoding.js";
import { invariant, ProtocolError } from "./errors.js";
import {
  block_bytes_max,
  block_txs_max,
  hash_bytes,
  result_code_bytes_max,
  signature_bytes,
  tx_bytes_max,
} from "./limits.js";
import { merkleRoot } from "./merkle.js";
import type { Signer, Verifier } from "./signer.js";
import {
  encodeSignedTx,
  isTxLive,
  parseChainId,
  parseSignedTx,
  type SignedTxJson,
  signedTxDigest,
  txFromJson,
  txId,
  txIdOfEncoding,
  txToJson,
  verifyTxSignatures,
} from "./tx.js";
import type { AccessDecision, Block, BlockHeader, Hash, SignedTx, TxResult } from "./types.js";

/** The block header version this code writes and reads. */
export const BLOCK_VERSION = 1;
/** Domain-separation prefix of a block header's signing payload. */
export const BLOCK_SIGNING_PREFIX: Uint8Array = utf8("medledger/block/v1\n");
/** The `prev` of the block at height 1. */
export const GENESIS_PREV_HASH: Hash = new Uint8Array(hash_bytes);

const HEADER_FIELDS = {
  required: [
    "v",
    "chain",
    "height",
    "prev",
    "time",
    "proposer",
    "txRoot",
    "resultRoot",
    "appHash",
    "raftTerm",
    "raftIndex",
  ],
} as const;
const RESULT_FIELDS = { required: ["status", "code"], optional: ["decision", "cites", "flagged"] } as const;
const BLOCK_FIELDS = { required: ["header", "sig", "txs", "results"] } as const;
const RESULT_STATUSES = ["ok", "rejected"] as const;
const ACCESS_DECISIONS: readonly AccessDecision[] = ["permitted", "emergency", "denied"];
/** A result code is printable ASCII without spaces (e.g. "no-consent"). */
const RESULT_CODE_PATTERN = /^[\x21-\x7e]+$/;

// Headers.

/** Validates a decoded BlockHeader and returns a clean copy. */
export function parseBlockHeader(value: unknown, field = "header"): BlockHeader {
  const record = readMap(value, field, HEADER_FIELDS);
  if (record.v !== BLOCK_VERSION) {
    throw new ProtocolError("FIELD_INVALID", `${field}.v must be ${BLOCK_VERSION}`, { field: `${field}.v` });
  }
  const height = readUint(record.height, `${field}.height`);
  if (height < 1)
    throw new ProtocolError("FIELD_INVALID", "the first block has height 1", { field: `${field}.height` });
  return {
    v: BLOCK_VERSION,
    chain: parseChainId(record.chain, `${field}.chain`),
    height,
    prev: readFixedBytes(record.prev, `${field}.prev`, hash_bytes),
    time: readUint(record.time, `${field}.time`),
    proposer: parseDid(record.proposer, `${field}.proposer`),
    txRoot: readFixedBytes(record.txRoot, `${field}.txRoot`, hash_bytes),
    resultRoot: readFixedBytes(record.resultRoot, `${field}.resultRoot`, hash_bytes),
    appHash: readFixedBytes(record.appHash, `${field}.appHash`, hash_bytes),
    raftTerm: readUint(record.raftTerm, `${field}.raftTerm`),
    raftIndex: readUint(record.raftIndex, `${field}.raftIndex`),
  };
}

/** Canonical encoding of a validated BlockHeader. */
export function encodeBlockHeader(header: BlockHeader): Uint8Array {
  return encodeCanonical(parseBlockHeader(header), { bytesMax: block_bytes_max, field: "header" });
}

/** The BlockHeader encoded in `bytes`. */
export function decodeBlockHeader(bytes: Uint8Array): BlockHeader {
  return parseBlockHeader(decodeCanonical(bytes, { bytesMax: block_bytes_max, field: "header" }));
}

/** The hash of a block: sha256 of its header's canonical encoding. */
export function blockHash(header: BlockHeader): Hash {
  return sha256(encodeBlockHeader(header));
}

/** The bytes the proposer signs for the block `hash`: BLOCK_SIGNING_PREFIX || hash. */
export function blockSigningPayload(hash: Hash): Uint8Array {
  return concatBytes(BLOCK_SIGNING_PREFIX, hash);
}

/** The proposer's signature of `header`; `signer` must be the header's proposer. */
export function signBlockHeader(header: BlockHeader, signer: Signer): Uint8Array {
  if (signer.did !== header.proposer) {
    throw new ProtocolError("FIELD_INVALID", "only the proposer signs its block", {
      field: "header.proposer",
    });
  }
  return signer.sign(blockSigningPayload(blockHash(header)));
}

/** Throws SIGNATURE_INVALID unless `sig` is the proposer's signature of `header`. */
export function verifyBlockHeaderSignature(header: BlockHeader, sig: Uint8Array, verifier: Verifier): void {
  const publicKey = didToPublicKey(header.proposer, "header.proposer");
  if (!verifier.verify(publicKey, blockSigningPayload(blockHash(header)), sig)) {
    throw new ProtocolError("SIGNATURE_INVALID", "the proposer's signature does not verify", {
      field: "sig",
    });
  }
}

// Results.

/** Validates a decoded TxResult and returns a clean copy. */
export function parseTxResult(value: unknown, field = "result"): TxResult {
  const record = readMap(value, field, RESULT_FIELDS);
  const status = record.status;
  if (typeof status !== "string" || !(RESULT_STATUSES as readonly string[]).includes(status)) {
    throw new ProtocolError("FIELD_INVALID", `${field}.status must be ok or rejected`, {
      field: `${field}.status`,
    });
  }
  const result: TxResult = {
    status: status as TxResult["status"],
    code: readText(record.code, `${field}.code`, {
      bytesMax: result_code_bytes_max,
      pattern: RESULT_CODE_PATTERN,
    }),
  };
  if (record.decision !== undefined) {
    const decision = record.decision;
    if (typeof decision !== "string" || !(ACCESS_DECISIONS as readonly string[]).includes(decision)) {
      throw new ProtocolError("FIELD_INVALID", `${field}.decision is not a decision`, {
        field: `${field}.decision`,
      });
    }
    result.decision = decision as AccessDecision;
  }
  if (record.cites !== undefined) result.cites = readFixedBytes(record.cites, `${field}.cites`, hash_bytes);
  if (record.flagged !== undefined) result.flagged = readBoolean(record.flagged, `${field}.flagged`);
  return result;
}

/** Canonical encoding of a validated TxResult. */
export function encodeTxResult(result: TxResult): Uint8Array {
  return encodeCanonical(parseTxResult(result), { bytesMax: block_bytes_max, field: "result" });
}

/** The TxResult encoded in `bytes`. */
export function decodeTxResult(bytes: Uint8Array): TxResult {
  return parseTxResult(decodeCanonical(bytes, { bytesMax: block_bytes_max, field: "result" }));
}

// Blocks.

/** Validates a decoded Block (at most block_txs_max transactions, one result each) and returns a clean copy. */
export function parseBlock(value: unknown, field = "block"): Block {
  const record = readMap(value, field, BLOCK_FIELDS);
  const txs = readList(record.txs, `${field}.txs`, block_txs_max);
  const results = readList(record.results, `${field}.results`, block_txs_max);
  if (results.length !== txs.length) {
    throw new ProtocolError("FIELD_INVALID", "a block has one result per transaction", {
      field: `${field}.results`,
    });
  }
  return {
    header: parseBlockHeader(record.header, `${field}.header`),
    sig: readFixedBytes(record.sig, `${field}.sig`, signature_bytes),
    txs: txs.map((tx, index) => parseSignedTx(tx, `${field}.txs[${index}]`)),
    results: results.map((result, index) => parseTxResult(result, `${field}.results[${index}]`)),
  };
}

/** Canonical encoding of a validated Block (bounded by block_bytes_max; each transaction by tx_bytes_max). */
export function encodeBlock(block: Block): Uint8Array {
  const parsed = parseBlock(block);
  return encodeBlockWithTxs(parsed, parsed.txs.map(encodeSignedTx));
}

const BLOCK_KEYS = ["sig", "txs", "header", "results"] as const;
/** The block map's keys in canonical order (by their encodings), each with its encoding. */
const BLOCK_KEY_ORDER = BLOCK_KEYS.map((key) => ({
  key,
  encoded: encodeCanonical(key, { bytesMax: 16, field: "key" }),
})).sort((left, right) => compareBytes(left.encoded, right.encoded));

/**
 * Canonical encoding of `block` whose transactions are already encoded: `txEncodings[i]` must be the
 * canonical encoding of `block.txs[i]` (as the mempool holds it). Canonical CBOR embeds each part's
 * encoding, so the block is assembled without encoding a transaction again; encodeBlock gives the same
 * bytes (tested).
 */
export function encodeBlockWithTxs(block: Block, txEncodings: readonly Uint8Array[]): Uint8Array {
  invariant(txEncodings.length === block.txs.length, "one encoding per transaction");
  if (block.txs.length > block_txs_max || block.results.length !== block.txs.length) {
    throw blockError("a block has at most block_txs_max transactions and one result each", "txs");
  }
  txEncodings.forEach((encoding, index) => {
    if (encoding.length > tx_bytes_max) {
      throw new ProtocolError(
        "ENCODING_TOO_LARGE",
        `block.txs[${index}] is larger than ${tx_bytes_max} bytes`,
        {
          field: `block.txs[${index}]`,
        },
      );
    }
  });
  const bounds = { bytesMax: block_bytes_max, field: "block" };
  const values: Record<(typeof BLOCK_KEYS)[number], Uint8Array[]> = {
    sig: [encodeCanonical(readFixedBytes(block.sig, "block.sig", signature_bytes), bounds)],
    txs: [arrayHead(txEncodings.length), ...txEncodings],
    header: [encodeBlockHeader(block.header)],
    results: [
      encodeCanonical(
        block.results.map((result, index) => parseTxResult(result, `block.results[${index}]`)),
        bounds,
      ),
    ],
  };
  const parts: Uint8Array[] = [Uint8Array.of(0xa0 | BLOCK_KEYS.length)];
  for (const { key, encoded } of BLOCK_KEY_ORDER) parts.push(encoded, ...values[key]);
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  if (total > block_bytes_max) {
    throw new ProtocolError("ENCODING_TOO_LARGE", `block is ${total} bytes, more than ${block_bytes_max}`, {
      field: "block",
    });
  }
  return concatBytes(...parts);
}

/** The canonical head of an array of `count` items (count < 2^16, as block_txs_max is). */
function arrayHead(count: number): Uint8Array {
  invariant(count < 65_536, "an array head of at most two length bytes");
  if (count < 24) return Uint8Array.of(0x80 | count);
  if (count < 256) return Uint8Array.of(0x98, count);
  return Uint8Array.of(0x99, count >> 8, count & 0xff);
}

/** A decoded block with what checking and storing it needs, taken from its bytes without re-encoding. */
export interface DecodedBlock {
  readonly block: Block;
  /** The canonical encoding of each signed transaction, in block order (views into the block's bytes). */
  readonly txEncodings: readonly Uint8Array[];
  /** Each transaction's id, in block order. */
  readonly ids: readonly Hash[];
}

/** The Block encoded in `bytes` (same bounds as encodeBlock). */
export function decodeBlock(bytes: Uint8Array): Block {
  return decodeWithTxs(bytes).block;
}

/** A signed transaction already decoded elsewhere (e.g. in a mempool), found by its digest. */
export type KnownTx = (digest: Hash) => { readonly signed: SignedTx; readonly id: Hash } | undefined;

/**
 * The Block encoded in `bytes` with its transactions' encodings and ids (same bounds as encodeBlock).
 * With `known`, a transaction whose signed encoding's digest it knows is taken from it instead of being
 * decoded again (a follower's mempool has most of a block's transactions); `digests` then lists every
 * transaction's digest.
 */
export function decodeBlockParts(bytes: Uint8Array, known?: KnownTx): DecodedBlock & { digests?: Hash[] } {
  if (known === undefined) {
    const { block, txEncodings } = decodeWithTxs(bytes);
    return { block, txEncodings, ids: txEncodings.map(txIdOfEncoding) };
  }
  if (bytes.length > block_bytes_max) {
    throw new ProtocolError(
      "ENCODING_TOO_LARGE",
      `block is ${bytes.length} bytes, more than ${block_bytes_max}`,
      {
        field: "block",
      },
    );
  }
  checkCanonical(bytes, "block");
  const entries = cborMapEntries(bytes, 0);
  const keys = entries.map((entry) => entry.key);
  for (const key of BLOCK_FIELDS.required) {
    if (!keys.includes(key)) {
      throw new ProtocolError("FIELD_MISSING", `block.${key} is required`, { field: `block.${key}` });
    }
  }
  const unknown = keys.find((key) => !(BLOCK_FIELDS.required as readonly string[]).includes(key));
  if (unknown !== undefined) {
    throw new ProtocolError("FIELD_UNKNOWN", `block.${unknown} is not a known field`, {
      field: `block.${unknown}`,
    });
  }
  const part = (key: string): Uint8Array => {
    const entry = entries.find((candidate) => candidate.key === key) as { start: number; end: number };
    return bytes.subarray(entry.start, entry.end);
  };
  const txsBytes = part("txs");
  if ((txsBytes[0] as number) >> 5 !== 4) {
    throw new ProtocolError("FIELD_INVALID", "block.txs must be an array", { field: "block.txs" });
  }
  const ranges = cborArrayItems(txsBytes, 0);
  if (ranges.length > block_txs_max) {
    throw new ProtocolError("FIELD_TOO_LARGE", `block.txs has more than ${block_txs_max} items`, {
      field: "block.txs",
    });
  }
  const results = readList(decodeValidated(part("results")), "block.results", block_txs_max);
  if (results.length !== ranges.length) {
    throw new ProtocolError("FIELD_INVALID", "a block has one result per transaction", {
      field: "block.results",
    });
  }
  const txEncodings: Uint8Array[] = [];
  const digests: Hash[] = [];
  const ids: Hash[] = [];
  const txs = ranges.map(([start, end], index) => {
    const field = `block.txs[${index}]`;
    if (end - start > tx_bytes_max) {
      throw new ProtocolError("ENCODING_TOO_LARGE", `${field} is larger than ${tx_bytes_max} bytes`, {
        field,
      });
    }
    const encoding = txsBytes.subarray(start, end);
    const digest = signedTxDigest(encoding);
    const found = known(digest);
    txEncodings.push(encoding);
    digests.push(digest);
    if (found !== undefined) {
      ids.push(found.id);
      return found.signed;
    }
    ids.push(txIdOfEncoding(encoding));
    return parseSignedTx(decodeValidated(encoding), field);
  });
  const block: Block = {
    header: parseBlockHeader(decodeValidated(part("header")), "block.header"),
    sig: readFixedBytes(decodeValidated(part("sig")), "block.sig", signature_bytes),
    txs,
    results: results.map((result, index) => parseTxResult(result, `block.results[${index}]`)),
  };
  return { block, txEncodings, ids, digests };
}

function decodeWithTxs(bytes: Uint8Array): { block: Block; txEncodings: Uint8Array[] } {
  const block = parseBlock(decodeCanonical(bytes, { bytesMax: block_bytes_max, field: "block" }));
  const range = cborMapValue(bytes, 0, "txs");
  invariant(range !== null, "a parsed block has transactions");
  const txEncodings = cborArrayItems(bytes, range[0]).map(([start, end], index) => {
    if (end - start > tx_bytes_max) {
      throw new ProtocolError(
        "ENCODING_TOO_LARGE",
        `block.txs[${index}] is larger than ${tx_bytes_max} bytes`,
        {
          field: `block.txs[${index}]`,
        },
      );
    }
    return bytes.subarray(start, end);
  });
  return { block, txEncodings };
}

/** The Merkle root over the canonical encodings of the signed transactions, in block order. */
export function computeTxRoot(txs: readonly SignedTx[]): Hash {
  return merkleRoot(txs.map(encodeSignedTx));
}

/** The Merkle root over the canonical encodings of the results, in block order. */
export function computeResultRoot(results: readonly TxResult[]): Hash {
  return merkleRoot(results.map(encodeTxResult));
}

/** What a block at height 1 chains to: the genesis's chain id and time. */
export interface GenesisAnchor {
  chain: string;
  time: number;
}

/** Options of verifyBlockStructure. */
export interface VerifyBlockOptions {
  /**
   * True for a signed transaction whose signatures this node already verified (e.g. in its mempool),
   * named by its `signedTxDigest` (over the signatures too), never by its id: copies of a transaction
   * that carry other signatures share its id.
   */
  isVerified?: (digest: Hash) => boolean;
  /**
   * The transactions' canonical encodings and ids when the caller has them (decodeBlockParts of the
   * same bytes, or the leader's own mempool): nothing is encoded again.
   */
  parts?: Pick<DecodedBlock, "txEncodings" | "ids"> & { readonly digests?: readonly Hash[] };
}

/**
 * Checks everything about a block that needs no state: chain, height = previous + 1, prev hash
 * (zeros at height 1), time not before the previous block's (or genesis) time, Raft term and index
 * not going back, transaction count, every transaction on this chain and live at the block's time,
 * no transaction twice, both Merkle roots, the proposer's signature and every transaction's signatures
 * (skipping signed transactions whose digest `isVerified` vouches for). Whether the proposer may propose, and the app hash, are for
 * the caller and the rules. Returns the transaction ids in block order. Throws BLOCK_INVALID,
 * CHAIN_MISMATCH or SIGNATURE_INVALID.
 */
export function verifyBlockStructure(
  block: Block,
  previous: BlockHeader | GenesisAnchor,
  verifier: Verifier,
  options: VerifyBlockOptions = {},
): Hash[] {
  verifyChaining(block.header, previous);
  return verifyBlockContents(block, verifier, options);
}

/**
 * The part of verifyBlockStructure that needs no previous block: transaction count, every transaction
 * on the block's chain and live at its time, no transaction twice, both Merkle roots, the proposer's
 * signature and every transaction's signatures (skipping signed transactions whose digest `isVerified`
 * vouches for). Each transaction is encoded once: the encodings are the txRoot's leaves and give the
 * digests. A follower runs it on a block before acknowledging it, and checks the chaining when it
 * applies the block. Returns the transaction ids in block order.
 */
export function verifyBlockContents(
  block: Block,
  verifier: Verifier,
  options: VerifyBlockOptions = {},
): Hash[] {
  const header = block.header;
  parseBlockHeader(header);
  if (block.txs.length > block_txs_max || block.results.length !== block.txs.length) {
    throw blockError("a block has at most block_txs_max transactions and one result each", "txs");
  }
  const parts = options.parts;
  invariant(
    parts === undefined ||
      (parts.txEncodings.length === block.txs.length && parts.ids.length === block.txs.length),
    "one encoding and one id per transaction",
  );
  const encodings = parts?.txEncodings ?? block.txs.map(encodeSignedTx);
  const ids = verifyTransactions(block, encodings, parts?.ids, parts?.digests, verifier, options);
  if (!bytesEqual(merkleRoot(encodings), header.txRoot))
    throw blockError("txRoot does not match", "header.txRoot");
  if (!bytesEqual(computeResultRoot(block.results), header.resultRoot)) {
    throw blockError("resultRoot does not match", "header.resultRoot");
  }
  verifyBlockHeaderSignature(header, block.sig, verifier);
  return ids;
}

function verifyChaining(header: BlockHeader, previous: BlockHeader | GenesisAnchor): void {
  parseBlockHeader(header);
  if (header.chain !== previous.chain) {
    throw new ProtocolError("CHAIN_MISMATCH", `the block is for chain ${header.chain}`, {
      field: "header.chain",
    });
  }
  if (header.time < previous.time) throw blockError("time goes back", "header.time");
  if (!("height" in previous)) {
    if (header.height !== 1) throw blockError("the first block has height 1", "header.height");
    if (!bytesEqual(header.prev, GENESIS_PREV_HASH))
      throw blockError("the first block's prev is zeros", "header.prev");
    return;
  }
  if (header.height !== previous.height + 1) throw blockError("height is not previous + 1", "header.height");
  if (!bytesEqual(header.prev, blockHash(previous)))
    throw blockError("prev is not the previous hash", "header.prev");
  if (header.raftTerm < previous.raftTerm || header.raftIndex <= previous.raftIndex) {
    throw blockError("the Raft term or index goes back", "header.raftIndex");
  }
}

function verifyTransactions(
  block: Block,
  encodings: readonly Uint8Array[],
  knownIds: readonly Hash[] | undefined,
  knownDigests: readonly Hash[] | undefined,
  verifier: Verifier,
  options: VerifyBlockOptions,
): Hash[] {
  const seen = new Set<string>();
  return block.txs.map((signed, index) => {
    const field = `txs[${index}]`;
    if (signed.tx.chain !== block.header.chain) {
      throw new ProtocolError("CHAIN_MISMATCH", "a transaction is for another chain", {
        field: `${field}.tx.chain`,
      });
    }
    if (!isTxLive(signed.tx, block.header.time))
      throw blockError("a transaction is not live", `${field}.tx.expires`);
    const id = knownIds?.[index] ?? txId(signed.tx);
    const key = toHex(id);
    if (seen.has(key)) throw blockError("a transaction appears twice", field);
    seen.add(key);
    const encoding = encodings[index];
    invariant(encoding !== undefined, "one encoding per transaction");
    if (options.isVerified?.(knownDigests?.[index] ?? signedTxDigest(encoding)) !== true) {
      try {
        verifyTxSignatures(signed, verifier, id);
      } catch (error) {
        if (error instanceof ProtocolError) {
          throw new ProtocolError(error.code, error.message, {
            field: `${field}.${error.field ?? ""}`,
            cause: error,
          });
        }
        throw error;
      }
    }
    return id;
  });
}

function blockError(message: string, field: string): ProtocolError {
  return new ProtocolError("BLOCK_INVALID", message, { field });
}

// JSON views.

/** The JSON view of a BlockHeader (hashes as lowercase hex). */
export interface BlockHeaderJson {
  v: 1;
  chain: string;
  height: number;
  prev: string;
  time: number;
  proposer: string;
  txRoot: string;
  resultRoot: string;
  appHash: string;
  raftTerm: number;
  raftIndex: number;
}

/** The JSON view of a TxResult. */
export interface TxResultJson {
  status: "ok" | "rejected";
  code: string;
  decision?: AccessDecision;
  cites?: string;
  flagged?: boolean;
}

/** The JSON view of a Block. */
export interface BlockJson {
  header: BlockHeaderJson;
  sig: string;
  txs: SignedTxJson[];
  results: TxResultJson[];
}

/** The JSON view of a header (validated first). */
export function blockHeaderToJson(header: BlockHeader): BlockHeaderJson {
  const parsed = parseBlockHeader(header);
  return {
    ...parsed,
    prev: toHex(parsed.prev),
    txRoot: toHex(parsed.txRoot),
    resultRoot: toHex(parsed.resultRoot),
    appHash: toHex(parsed.appHash),
  };
}

/** The header of a JSON view. */
export function blockHeaderFromJson(json: unknown, field = "header"): BlockHeader {
  const record = readMap(json, field, HEADER_FIELDS);
  const hex = (name: string) => fromHex(record[name], { field: `${field}.${name}`, length: hash_bytes });
  return parseBlockHeader(
    {
      ...record,
      prev: hex("prev"),
      txRoot: hex("txRoot"),
      resultRoot: hex("resultRoot"),
      appHash: hex("appHash"),
    },
    field,
  );
}

/** The JSON view of a result (validated first). */
export function txResultToJson(result: TxResult): TxResultJson {
  const parsed = parseTxResult(result);
  const { cites, ...rest } = parsed;
  return cites === undefined ? rest : { ...rest, cites: toHex(cites) };
}

/** The result of a JSON view. */
export function txResultFromJson(json: unknown, field = "result"): TxResult {
  const record = readMap(json, field, RESULT_FIELDS);
  const cites =
    record.cites === undefined ? {} : { cites: fromHex(record.cites, { field: `${field}.cites` }) };
  return parseTxResult({ ...record, ...cites }, field);
}

/** The JSON view of a block (validated first). */
export function blockToJson(block: Block): BlockJson {
  const parsed = parseBlock(block);
  return {
    header: blockHeaderToJson(parsed.header),
    sig: toHex(parsed.sig),
    txs: parsed.txs.map(txToJson),
    results: parsed.results.map(txResultToJson),
  };
}

/** The block of a JSON view (lossless inverse of blockToJson, same bounds as decodeBlock). */
export function blockFromJson(json: unknown): Block {
  const field = "block";
  const record = readMap(json, field, BLOCK_FIELDS);
  const txs = readList(record.txs, `${field}.txs`, block_txs_max).map((tx) => txFromJson(tx));
  const results = readList(record.results, `${field}.results`, block_txs_max).map((result, index) =>
    txResultFromJson(result, `${field}.results[${index}]`),
  );
  const block = parseBlock(
    {
      header: blockHeaderFromJson(record.header, `${field}.header`),
      sig: fromHex(record.sig, { field: `${field}.sig`, length: signature_bytes }),
      txs,
      results,
    },
    field,
  );
  encodeBlock(block); // same size bound as the binary form
  return block;
}
