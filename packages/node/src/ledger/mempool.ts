/**
 * The mempool: transactions waiting for a block. Each is decoded, checked for chain and liveness,
 * signature-verified once (remembered by the digest of its signed encoding, never by its id: the id
 * leaves the signatures out) and checked for authenticity against the committed state. Copies are
 * keyed by digest: a few copies of one id may wait side by side, so that an inauthentic copy cannot
 * crowd out the genuine one; a block takes one copy per id. It is bounded by count and bytes: when
 * full it refuses with MEMPOOL_FULL ("try later") and never drops a transaction it accepted, except
 * one whose expiry passed before a block could hold it (counted, and reported through `onExpired`).
 */
import {
  decodeSignedTxWithId,
  type Hash,
  isProtocolError,
  limits as protocolLimits,
  type SignedTx,
  signedTxDigest,
  toHex,
  type Verifier,
  verifyTxSignatures,
} from "@medledger/protocol";
import { NodeError } from "../errors.js";
import { mempool_bytes_max, mempool_copies_per_id_max, mempool_txs_max, verified_ids_max } from "./limits.js";

/** A transaction waiting in the mempool. */
export interface PendingTx {
  readonly id: Hash;
  /** The id in lowercase hex. */
  readonly idKey: string;
  /** sha256 of the signed encoding (signedTxDigest). */
  readonly digest: Hash;
  /** The digest in lowercase hex (the pool's key). */
  readonly key: string;
  readonly signed: SignedTx;
  readonly encoded: Uint8Array;
  /** Clock time when it was accepted. */
  readonly addedAt: number;
  /** How often this node offered it again (re-gossip), and when it last did (addedAt before the first). */
  offers: number;
  offeredAt: number;
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
  /** A reason code when the committed state would not take the transaction as its signers' own. */
  readonly checkAuthenticity?: (signed: SignedTx) => string | null;
  readonly txsMax?: number;
  readonly bytesMax?: number;
  /** Called with transactions dropped because they expired before a block held them. */
  readonly onExpired?: (txs: readonly PendingTx[]) => void;
}

/** Transactions waiting for a block, verified once, bounded, in arrival order. */
export class Mempool {
  private readonly pool = new Map<string, PendingTx>();
  private readonly copies = new Map<string, Set<string>>();
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

  /** Number of waiting transactions (copies count one each). */
  get size(): number {
    return this.pool.size;
  }

  /** Bytes of waiting transactions. */
  get bytes(): number {
    return this.poolBytes;
  }

  /**
   * Offers an encoded signed transaction. Returns accepted (new), pending (this very copy is waiting)
   * or committed (its id is already consumed by the ledger: submitting twice is idempotent). Throws
   * TX_INVALID for a transaction that fails decoding, its chain, liveness, signatures or authenticity,
   * and MEMPOOL_FULL when there is no room. `decoded`, when the caller already decoded `encoded` (the
   * API does), saves decoding it again; it must be exactly what decodeSignedTxWithId(encoded) gives.
   */
  add(encoded: Uint8Array, decoded?: { signed: SignedTx; id: Hash }): AddOutcome {
    const digest = signedTxDigest(encoded);
    const key = toHex(digest);
    const waiting = this.pool.get(key); // the same bytes again (gossip echoes): no decoding
    if (waiting !== undefined) return { status: "pending", tx: waiting };
    const { signed, id } = decoded ?? decodeOrThrow(encoded);
    if (this.options.isCommitted(id)) return { status: "committed", id };
    this.checkEnvelope(signed);
    const idKey = toHex(id);
    const siblings = this.copies.get(idKey);
    if (this.pool.size >= this.txsMax || this.poolBytes + encoded.length > this.bytesMax) {
      throw new NodeError(
        "MEMPOOL_FULL",
        `the mempool holds ${this.pool.size} transactions: try again later`,
      );
    }
    if (siblings !== undefined && siblings.size >= mempool_copies_per_id_max) {
      throw new NodeError("MEMPOOL_FULL", `${siblings.size} copies of transaction ${idKey} are waiting`);
    }
    this.verifyOnce(signed, id, key);
    const inauthentic = this.options.checkAuthenticity?.(signed) ?? null;
    if (inauthentic !== null) {
      throw new NodeError("TX_INVALID", `${inauthentic}: the transaction is not its signers' own`);
    }
    const now = this.options.now();
    const tx: PendingTx = {
      id,
      idKey,
      digest,
      key,
      signed,
      encoded,
      addedAt: now,
      offers: 0,
      offeredAt: now,
    };
    this.pool.set(key, tx);
    if (siblings === undefined) this.copies.set(idKey, new Set([key]));
    else siblings.add(key);
    this.poolBytes += encoded.length;
    return { status: "accepted", tx };
  }

  /**
   * Drops every waiting transaction whose id the ledger has committed (after the state moved on without
   * the blocks passing through here, e.g. a snapshot install); returns how many were dropped.
   */
  dropCommitted(): number {
    const keys: string[] = [];
    for (const [key, tx] of this.pool) if (this.options.isCommitted(tx.id)) keys.push(key);
    this.removeKeys(keys);
    return keys.length;
  }

  /** True when this node already verified the signatures of the signed encoding with this digest. */
  isVerified(digest: Hash): boolean {
    return this.verified.has(toHex(digest));
  }

  /** Records that the signatures of the signed encoding with this digest were verified. */
  markVerified(digest: Hash): void {
    this.rememberVerified(toHex(digest));
  }

  /** The waiting signed transaction whose signed encoding has this digest, decoded, with its id. */
  byDigest(digest: Hash): { signed: SignedTx; id: Hash } | undefined {
    const tx = this.pool.get(toHex(digest));
    return tx === undefined ? undefined : { signed: tx.signed, id: tx.id };
  }

  /** True when a copy of transaction `id` is waiting. */
  has(id: Hash): boolean {
    return this.copies.has(toHex(id));
  }

  /**
   * The oldest waiting transactions that a block of time `time` may hold, one copy per id, within
   * `txsMax` and `bytesMax`. Expired ones are dropped (and reported); the others stay until removed.
   */
  take(options: { time: number; txsMax: number; bytesMax: number }): PendingTx[] {
    const out: PendingTx[] = [];
    const ids = new Set<string>();
    const expired: PendingTx[] = [];
    let bytes = 0;
    for (const tx of this.pool.values()) {
      if (out.length >= options.txsMax) break;
      if (tx.signed.tx.expires < options.time) {
        expired.push(tx);
        continue;
      }
      if (tx.signed.tx.expires - options.time > protocolLimits.tx_ttl_max_ms) continue; // not yet placeable
      if (ids.has(tx.idKey)) continue;
      if (bytes + tx.encoded.length > options.bytesMax) break;
      bytes += tx.encoded.length;
      ids.add(tx.idKey);
      out.push(tx);
    }
    if (expired.length > 0) {
      this.removeKeys(expired.map((tx) => tx.key));
      this.expiredCount += expired.length;
      this.options.onExpired?.(expired);
    }
    return out;
  }

  /** Removes the copies with these digests (e.g. they were in a committed block). */
  removeDigests(digests: readonly Hash[]): void {
    this.removeKeys(digests.map(toHex));
  }

  /** Removes every waiting copy of these ids (their ids are consumed). */
  removeIds(ids: readonly Hash[]): void {
    for (const id of ids) {
      const keys = this.copies.get(toHex(id));
      if (keys !== undefined) this.removeKeys([...keys]);
    }
  }

  /**
   * Up to `limit` waiting transactions to offer again, oldest first, each recorded as offered at `now`.
   * With `intervalMs`, only those due: offered last at least intervalMs x 2^offers ago (the doublings
   * capped at `doublingsMax`); without it, any (after a leader change, the new leader needs them all).
   */
  reoffer(now: number, limit: number, schedule?: { intervalMs: number; doublingsMax: number }): PendingTx[] {
    const out: PendingTx[] = [];
    for (const tx of this.pool.values()) {
      if (out.length >= limit) break;
      if (schedule !== undefined) {
        const wait = schedule.intervalMs * 2 ** Math.min(tx.offers, schedule.doublingsMax);
        if (now - tx.offeredAt < wait) continue;
      }
      tx.offers += 1;
      tx.offeredAt = now;
      out.push(tx);
    }
    return out;
  }

  private verifyOnce(signed: SignedTx, id: Hash, key: string): void {
    if (this.verified.has(key)) return;
    try {
      verifyTxSignatures(signed, this.options.verifier, id);
    } catch (cause) {
      throw txInvalid(cause);
    }
    this.rememberVerified(key);
  }

  private removeKeys(keys: readonly string[]): void {
    for (const key of keys) {
      const tx = this.pool.get(key);
      if (tx === undefined) continue;
      this.pool.delete(key);
      this.poolBytes -= tx.encoded.length;
      const siblings = this.copies.get(tx.idKey);
      siblings?.delete(key);
      if (siblings !== undefined && siblings.size === 0) this.copies.delete(tx.idKey);
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
