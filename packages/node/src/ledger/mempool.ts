/**
 * The mempool: transactions waiting for a block. Each is decoded, checked for chain and liveness and
 * signature-verified once; ids are de-duplicated against the pool and the committed ledger. It is
 * bounded by count and bytes: when full it refuses with MEMPOOL_FULL ("try later") and never drops a
 * transaction it accepted, except one whose expiry passed before a block could hold it (counted, and
 * reported through `onExpired`).
 */
import {
  decodeSignedTxWithId,
  type Hash,
  isProtocolError,
  limits as protocolLimits,
  type SignedTx,
  toHex,
  type Verifier,
  verifyTxSignatures,
} from "@medledger/protocol";
import { NodeError } from "../errors.js";
import { mempool_bytes_max, mempool_txs_max, verified_ids_max } from "./limits.js";

/** A transaction waiting in the mempool. */
export interface PendingTx {
  readonly id: Hash;
  /** The id in lowercase hex (the pool's key). */
  readonly key: string;
  readonly signed: SignedTx;
  readonly encoded: Uint8Array;
  /** Clock time when it was accepted. */
  readonly addedAt: number;
}

/** The outcome of offering a transaction to the mempool. */
export type AddOutcome =
  | { readonly status: "accepted"; readonly tx: PendingTx }
  | { readonly status: "pending"; readonly tx: PendingTx }
  | { readonly status: "committed"; readonly id: Hash };

/** The options of a Mempool. */
export interface MempoolOptions {
  readonly chain: string;
  readonly verifier: Verifier;
  /** The clock (ms since the epoch) against which liveness is judged on entry. */
  readonly now: () => number;
  /** True when the id is already committed (remembered by the ledger's replay protection). */
  readonly isCommitted: (id: Hash) => boolean;
  readonly txsMax?: number;
  readonly bytesMax?: number;
  /** Called with transactions dropped because they expired before a block held them. */
  readonly onExpired?: (txs: readonly PendingTx[]) => void;
}

/** Transactions waiting for a block, verified once, bounded, in arrival order. */
export class Mempool {
  private readonly pool = new Map<string, PendingTx>();
  private readonly verified = new Map<string, true>();
  private poolBytes = 0;
  private readonly txsMax: number;
  private readonly bytesMax: number;
  /** How many accepted transactions expired before a block held them. */
  expiredCount = 0;

  constructor(private readonly options: MempoolOptions) {
    this.txsMax = options.txsMax ?? mempool_txs_max;
    this.bytesMax = options.bytesMax ?? mempool_bytes_max;
  }

  /** Number of waiting transactions. */
  get size(): number {
    return this.pool.size;
  }

  /** Bytes of waiting transactions. */
  get bytes(): number {
    return this.poolBytes;
  }

  /**
   * Offers an encoded signed transaction. Returns accepted (new), pending (already waiting) or committed
   * (already in the ledger: submitting twice is idempotent). Throws TX_INVALID for a transaction that
   * fails decoding, its chain, liveness or signatures, and MEMPOOL_FULL when there is no room.
   */
  add(encoded: Uint8Array): AddOutcome {
    const { signed, id } = decodeOrThrow(encoded);
    const key = toHex(id);
    const waiting = this.pool.get(key);
    if (waiting !== undefined) return { status: "pending", tx: waiting };
    if (this.options.isCommitted(id)) return { status: "committed", id };
    this.checkEnvelope(signed);
    if (this.pool.size >= this.txsMax || this.poolBytes + encoded.length > this.bytesMax) {
      throw new NodeError(
        "MEMPOOL_FULL",
        `the mempool holds ${this.pool.size} transactions: try again later`,
      );
    }
    if (!this.verified.has(key)) {
      try {
        verifyTxSignatures(signed, this.options.verifier);
      } catch (cause) {
        throw txInvalid(cause);
      }
      this.rememberVerified(key);
    }
    const tx: PendingTx = { id, key, signed, encoded, addedAt: this.options.now() };
    this.pool.set(key, tx);
    this.poolBytes += encoded.length;
    return { status: "accepted", tx };
  }

  /** True when this node already verified the signatures of transaction `id`. */
  isVerified(id: Hash): boolean {
    return this.verified.has(toHex(id));
  }

  /** Records that the signatures of `id` were verified (by block validation). */
  markVerified(id: Hash): void {
    this.rememberVerified(toHex(id));
  }

  /** True when `id` is waiting in the pool. */
  has(id: Hash): boolean {
    return this.pool.has(toHex(id));
  }

  /**
   * The oldest waiting transactions that a block of time `time` may hold, within `txsMax` and
   * `bytesMax`. Those that expired are dropped (and reported); the others stay until removed.
   */
  take(options: { time: number; txsMax: number; bytesMax: number }): PendingTx[] {
    const out: PendingTx[] = [];
    const expired: PendingTx[] = [];
    let bytes = 0;
    for (const tx of this.pool.values()) {
      if (out.length >= options.txsMax) break;
      if (tx.signed.tx.expires < options.time) {
        expired.push(tx);
        continue;
      }
      if (tx.signed.tx.expires - options.time > protocolLimits.tx_ttl_max_ms) continue; // not yet placeable
      if (bytes + tx.encoded.length > options.bytesMax) break;
      bytes += tx.encoded.length;
      out.push(tx);
    }
    if (expired.length > 0) {
      this.removeKeys(expired.map((tx) => tx.key));
      this.expiredCount += expired.length;
      this.options.onExpired?.(expired);
    }
    return out;
  }

  /** Removes transactions (committed in a block); unknown ids are ignored. */
  remove(ids: readonly Hash[]): void {
    this.removeKeys(ids.map(toHex));
  }

  /** Up to `limit` waiting transactions, oldest first (for re-gossip after a leader change). */
  pending(limit: number): PendingTx[] {
    const out: PendingTx[] = [];
    for (const tx of this.pool.values()) {
      if (out.length >= limit) break;
      out.push(tx);
    }
    return out;
  }

  private removeKeys(keys: readonly string[]): void {
    for (const key of keys) {
      const tx = this.pool.get(key);
      if (tx === undefined) continue;
      this.pool.delete(key);
      this.poolBytes -= tx.encoded.length;
    }
  }

  private checkEnvelope(signed: SignedTx): void {
    if (signed.tx.chain !== this.options.chain) {
      throw new NodeError(
        "TX_INVALID",
        `the transaction is for chain ${signed.tx.chain}, not ${this.options.chain}`,
      );
    }
    const now = this.options.now();
    if (signed.tx.expires < now) throw new NodeError("TX_INVALID", "the transaction has expired");
    if (signed.tx.expires - now > protocolLimits.tx_ttl_max_ms) {
      throw new NodeError(
        "TX_INVALID",
        `the transaction expires more than ${protocolLimits.tx_ttl_max_ms} ms ahead`,
      );
    }
  }

  private rememberVerified(key: string): void {
    this.verified.set(key, true);
    if (this.verified.size <= verified_ids_max) return;
    const oldest = this.verified.keys().next();
    if (oldest.done !== true) this.verified.delete(oldest.value);
  }
}

function decodeOrThrow(encoded: Uint8Array): { signed: SignedTx; id: Hash } {
  try {
    return decodeSignedTxWithId(encoded);
  } catch (cause) {
    throw txInvalid(cause);
  }
}

function txInvalid(cause: unknown): NodeError {
  if (isProtocolError(cause)) {
    const where = cause.field === undefined ? "" : ` (${cause.field})`;
    return new NodeError("TX_INVALID", `${cause.code}: ${cause.message}${where}`, { cause });
  }
  throw cause;
}
