/**
 * How a block's bytes are kept in the chain database, and how its parts are found in them without
 * decoding it.
 *
 * A block's canonical encoding is stored once, in `blocks.encoded`, compressed as `blocks.codec`
 * says: 0 as is, 1 Brotli (quality 3: about 3.5 times smaller on blocks of access logs, whose DIDs and
 * keys repeat, for about 2 µs of CPU per transaction). A body that does not shrink is kept as is.
 * Decompressing gives back exactly the bytes that were stored: they are what Raft carried, what the
 * proposer signed over and what `medledger verify` re-checks.
 *
 * A transaction and its result are found by position: `blockLayout` walks the canonical CBOR of the
 * block (definite lengths only) and returns where each signed transaction and each result starts and
 * ends. Canonical CBOR embeds each part's own canonical encoding, so a slice is exactly the
 * transaction's encoding (its Merkle leaf) or the result's.
 */
import { brotliCompressSync, brotliDecompressSync, constants } from "node:zlib";
import { NodeError } from "../errors.js";

/** `blocks.codec`: the body is the canonical encoding itself. */
export const CODEC_NONE = 0;
/** `blocks.codec`: the body is the canonical encoding compressed with Brotli. */
export const CODEC_BROTLI = 1;

/** Brotli quality: 3 compresses about as well as 5-9 on blocks, at a third of their CPU. */
const brotli_quality = 3;

/** A body as stored: its codec and bytes. */
export interface PackedBody {
  readonly codec: number;
  readonly body: Uint8Array;
}

/** Compresses a block's canonical encoding for storage (as is when that does not make it smaller). */
export function packBody(encoded: Uint8Array): PackedBody {
  const compressed = brotliCompressSync(encoded, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: brotli_quality,
      [constants.BROTLI_PARAM_SIZE_HINT]: encoded.byteLength,
    },
  });
  if (compressed.byteLength >= encoded.byteLength) return { codec: CODEC_NONE, body: encoded };
  return { codec: CODEC_BROTLI, body: compressed };
}

/** The canonical encoding of a stored body; STORAGE_CORRUPT when it cannot be read back. */
export function unpackBody(codec: number, body: Uint8Array, maxBytes: number): Uint8Array {
  if (codec === CODEC_NONE) return body;
  if (codec !== CODEC_BROTLI) throw corrupt(`a block body has the unknown codec ${codec}`);
  try {
    const out = brotliDecompressSync(body, { maxOutputLength: maxBytes });
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (cause) {
    throw new NodeError("STORAGE_CORRUPT", "chain database: a block body does not decompress", { cause });
  }
}

/** Where the parts of a block's encoding lie: [start, end) of each transaction and each result. */
export interface BlockLayout {
  /** Start and end of transaction i at [2i] and [2i + 1]. */
  readonly txs: Uint32Array;
  /** Start and end of result i at [2i] and [2i + 1]. */
  readonly results: Uint32Array;
}

/**
 * The positions of the transactions and results in a block's canonical encoding (a map with the keys
 * header, sig, txs, results). Throws STORAGE_CORRUPT on anything else.
 */
export function blockLayout(bytes: Uint8Array): BlockLayout {
  let at = readHead(bytes, 0);
  if (major() !== 5) throw corrupt("a stored block is not a map");
  const pairs = head[1] as number;
  let txs: Uint32Array | null = null;
  let results: Uint32Array | null = null;
  for (let pair = 0; pair < pairs; pair++) {
    at = readHead(bytes, at);
    const length = head[1] as number;
    if (major() !== 3 || at + length > bytes.byteLength)
      throw corrupt("a stored block has a key that is not text");
    const key = keyOf(bytes, at, length);
    at += length;
    if (key === 1 || key === 2) {
      at = readHead(bytes, at);
      const count = head[1] as number;
      if (major() !== 4 || count * 2 > bytes.byteLength) {
        throw corrupt("a stored block's transactions or results are not a list");
      }
      const items = new Uint32Array(count * 2);
      for (let i = 0; i < count * 2; i += 2) {
        items[i] = at;
        at = skip(bytes, at);
        items[i + 1] = at;
      }
      if (key === 1) txs = items;
      else results = items;
    } else {
      at = skip(bytes, at);
    }
  }
  if (at !== bytes.byteLength) throw corrupt("a stored block has bytes after its end");
  if (txs === null || results === null || txs.length !== results.length) {
    throw corrupt("a stored block lacks its transactions or results");
  }
  return { txs, results };
}

/** 1 for the key "txs", 2 for "results", 0 for any other. */
function keyOf(bytes: Uint8Array, at: number, length: number): number {
  if (length === 3 && bytes[at] === 0x74 && bytes[at + 1] === 0x78 && bytes[at + 2] === 0x73) return 1;
  if (length === 7 && Buffer.from(bytes.buffer, bytes.byteOffset + at, 7).toString("latin1") === "results") {
    return 2;
  }
  return 0;
}

// The head last read by readHead: [major type, argument] (module state: no allocation per item).
const head = new Float64Array(2);

/** The major type of the head last read. */
function major(): number {
  return head[0] as number;
}

/** Reads the head of the data item at `at` into `head`; returns where its content starts. */
function readHead(bytes: Uint8Array, at: number): number {
  if (at >= bytes.byteLength) throw corrupt("a stored block ends early");
  const initial = bytes[at] as number;
  head[0] = initial >> 5;
  const info = initial & 31;
  if (info < 24) {
    head[1] = info;
    return at + 1;
  }
  const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
  if (size === 0) throw corrupt("a stored block is not canonical CBOR (indefinite length)");
  if (at + 1 + size > bytes.byteLength) throw corrupt("a stored block ends early");
  let value = 0;
  for (let i = 1; i <= size; i++) value = value * 256 + (bytes[at + i] as number);
  head[1] = value;
  return at + 1 + size;
}

/** The position just after the data item at `start`. */
function skip(bytes: Uint8Array, start: number): number {
  let at = start;
  let pending = 1;
  while (pending > 0) {
    pending -= 1;
    at = readHead(bytes, at);
    const major = head[0];
    const value = head[1] as number;
    if (major === 2 || major === 3) at += value;
    else if (major === 4) pending += value;
    else if (major === 5) pending += 2 * value;
    else if (major === 6) pending += 1;
    if (at > bytes.byteLength || pending > bytes.byteLength) throw corrupt("a stored block ends early");
  }
  return at;
}

function corrupt(message: string): NodeError {
  return new NodeError("STORAGE_CORRUPT", `chain database: ${message}`);
}
