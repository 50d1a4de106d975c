/**
 * Block back-fill: a node that caught up through a snapshot holds the state but not the blocks the
 * snapshot skipped. It fetches them from its peers, newest first, and checks each one down the hash
 * chain from a block it trusts (the tip it installed, or the stored block above the gap): the header
 * must hash to the `prev` of the block above, the body must match the header's transaction and result
 * roots, and the bottom block must name the stored block below as its `prev`. A checked block is the
 * committed one (its hash is), so nothing is re-applied and no signature is checked again: the blocks
 * are stored as history, a batch per write. A peer that sends anything else is skipped for the next;
 * when every peer failed, the back-fill waits (doubling up to state_retry_max_ms) and tries again.
 */
import {
  type Block,
  blockHash,
  bytesEqual,
  computeResultRoot,
  decodeBlockParts,
  type Hash,
  isProtocolError,
  merkleRoot,
  toHex,
} from "@medledger/protocol";
import { hasNodeErrorCode, NodeError } from "../errors.js";
import { blocks_range_max } from "../limits.js";
import type { Logger } from "../logger.js";
import type { Clock } from "./clock.js";
import { state_request_timeout_ms, state_retry_initial_ms, state_retry_max_ms } from "./limits.js";
import { fetchBlocksDown, type Requester } from "./state-transfer.js";
import type { BlockGap, HistoryBlock, LedgerHistory } from "./store.js";

/** What the back-fill needs from its node. */
export interface BackfillOptions {
  readonly history: LedgerHistory;
  readonly request: Requester;
  /** The peers to ask, best first (e.g. the leader, then the other voters). */
  readonly sources: () => readonly string[];
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called with every batch stored (e.g. to answer clients waiting for those transactions). */
  readonly onStored?: (blocks: readonly HistoryBlock[]) => void;
  /**
   * Called when the history cannot be filled without breaking an invariant (the committed chain does
   * not meet this node's own blocks: its history diverged); the run ends. The node should halt.
   */
  readonly onBroken: (error: Error) => void;
}

/** Where the check down the hash chain stands: the next height and what its block must hash to. */
interface Cursor {
  top: number;
  anchor: Hash;
  raftIndexAbove: number;
}

/** Fills the gaps an installed snapshot left in the block history; one run at a time. */
export class Backfill {
  private active: Promise<void> | null = null;
  private stopped = false;
  /** Blocks stored since the node started. */
  stored = 0;
  /** Answers refused (malformed, not chaining, not matching their header). */
  refused = 0;

  constructor(private readonly options: BackfillOptions) {}

  /** True while a run is filling gaps. */
  get running(): boolean {
    return this.active !== null;
  }

  /** Starts a run unless one is under way (a run ends when no gap is left, or at stop). */
  kick(): void {
    this.stopped = false;
    if (this.active !== null) return;
    this.active = this.run()
      .catch((error: unknown) =>
        this.options.onBroken(error instanceof Error ? error : new Error(String(error))),
      )
      .finally(() => {
        this.active = null;
      });
  }

  /** Stops after the current request; resolves when the run has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.active;
  }

  private async run(): Promise<void> {
    let delay = state_retry_initial_ms;
    let failures = 0;
    for (;;) {
      if (this.stopped) return;
      const gap = this.options.history.gap();
      if (gap === null) return;
      this.options.logger.info("back-filling blocks", { low: gap.low, high: gap.high });
      const started = this.options.clock.now();
      const cursor: Cursor = { top: gap.high, anchor: gap.anchor, raftIndexAbove: gap.raftIndexAbove };
      while (cursor.top >= gap.low) {
        if (this.stopped) return;
        const sources = this.options.sources();
        const peer = sources.length === 0 ? null : (sources[failures % sources.length] as string);
        const fetched = peer === null ? null : await this.fetchChecked(peer, gap, cursor);
        if (this.stopped) return;
        const batch = fetched?.blocks ?? [];
        if (batch.length === 0) {
          failures += 1;
          if (sources.length === 0 || failures % sources.length === 0) {
            await new Promise<void>((resolve) => this.options.clock.after(delay, resolve));
            delay = Math.min(delay * 2, state_retry_max_ms);
          }
          continue;
        }
        try {
          this.options.history.fill(batch);
        } catch (error) {
          if (!hasNodeErrorCode(error, "STORAGE_FULL")) throw error;
          // A full disk: nothing was written; the same batch is fetched again once the wait is over.
          this.options.logger.warn("back-fill paused: the disk is full", { delay });
          await new Promise<void>((resolve) => this.options.clock.after(delay, resolve));
          delay = Math.min(delay * 2, state_retry_max_ms);
          continue;
        }
        delay = state_retry_initial_ms;
        Object.assign(cursor, (fetched as { next: Cursor }).next);
        this.stored += batch.length;
        this.options.onStored?.(batch);
      }
      if (!bytesEqual(cursor.anchor, gap.prevBelow)) {
        this.options.onBroken(
          new NodeError(
            "LEDGER_DIVERGED",
            `the committed block ${gap.low} does not follow this node's block ${gap.low - 1}`,
          ),
        );
        return;
      }
      this.options.logger.info("back-filled blocks", {
        low: gap.low,
        high: gap.high,
        ms: this.options.clock.now() - started,
      });
    }
  }

  /**
   * One batch from `peer`, checked down the chain from `cursor`, with the cursor after it; null when
   * the request failed.
   */
  private async fetchChecked(
    peer: string,
    gap: BlockGap,
    cursor: Cursor,
  ): Promise<{ blocks: HistoryBlock[]; next: Cursor } | null> {
    const count = Math.min(blocks_range_max, cursor.top - gap.low + 1);
    let encodings: Uint8Array[];
    try {
      encodings = await fetchBlocksDown(
        this.options.request,
        peer,
        cursor.top,
        count,
        state_request_timeout_ms,
      );
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.options.logger.warn("back-fill request failed", { peer, reason });
      return null;
    }
    const checked: HistoryBlock[] = [];
    const next = { ...cursor };
    for (const encoded of encodings) {
      const block = this.check(encoded, gap, next, peer);
      if (block === null) break;
      checked.push(block);
    }
    if (checked.length < encodings.length) this.refused += 1;
    return { blocks: checked, next };
  }

  /** The block in `encoded` if it is the one `cursor` expects (and advances it), else null. */
  private check(encoded: Uint8Array, gap: BlockGap, cursor: Cursor, peer: string): HistoryBlock | null {
    const refuse = (reason: string): null => {
      this.options.logger.warn("back-fill block refused", { peer, height: cursor.top, reason });
      return null;
    };
    let parts: { block: Block; txEncodings: readonly Uint8Array[]; ids: readonly Hash[] };
    try {
      parts = decodeBlockParts(encoded);
    } catch (error) {
      if (!isProtocolError(error)) throw error;
      return refuse(`not a block: ${error.message}`);
    }
    const { header } = parts.block;
    if (header.height !== cursor.top) return refuse(`height ${header.height}`);
    const hash = blockHash(header);
    if (!bytesEqual(hash, cursor.anchor)) return refuse(`hash ${toHex(hash)} is not the one chained to`);
    if (!bytesEqual(merkleRoot(parts.txEncodings), header.txRoot)) return refuse("txRoot does not match");
    if (!bytesEqual(computeResultRoot(parts.block.results), header.resultRoot)) {
      return refuse("resultRoot does not match");
    }
    // The hash chain vouches for the header: a Raft index out of order is a broken chain, not a lie.
    if (header.raftIndex >= cursor.raftIndexAbove || header.raftIndex <= gap.raftIndexBelow) {
      throw new NodeError(
        "NODE_INVARIANT",
        `invariant broken: block ${header.height}'s Raft index is out of order`,
      );
    }
    cursor.top -= 1;
    cursor.anchor = header.prev;
    cursor.raftIndexAbove = header.raftIndex;
    return { block: parts.block, encoded, hash, ids: parts.ids };
  }
}
