// Goal: the block back-fill stores exactly the committed blocks, whatever its peers send: a peer's
// junk, a forged header, a genuine header over another body, or a chain that does not meet this node's
// own blocks never reach storage; an honest peer after them fills the gap.
// Method: a real 12-block chain from the in-process cluster; a history in memory with heights 4-9
// missing; peers answering the real request encoding, each with one kind of lie.
import {
  type Block,
  blockHash,
  bytesEqual,
  decodeBlock,
  encodeBlock,
  GENESIS_PREV_HASH,
  type Hash,
  randomBytes,
} from "@medledger/protocol";
import { decode, encode } from "cborg";
import { describe, expect, it } from "vitest";
import { NodeError } from "../src/errors.js";
import { Backfill } from "../src/ledger/backfill.js";
import type { BlockGap, HistoryBlock, LedgerHistory } from "../src/ledger/store.js";
import { silentLogger } from "../src/logger.js";
import { Cluster, signerOf } from "./ledger-harness.js";

const HEIGHT = 12;
const GAP = { low: 4, high: 9 };

/** The blocks 1..HEIGHT of a real chain. */
function realChain(): Uint8Array[] {
  const c = new Cluster(3);
  c.start();
  c.runUntil(() => c.leader() !== null);
  const leader = c.leader();
  if (leader === null) throw new Error("no leader");
  for (let index = 0; index < HEIGHT; index++) {
    const height = leader.status().height;
    leader.submit(c.tx("patient.register", signerOf(`backfill-${index}`), {}));
    c.runUntil(() => c.nodes.every((node) => node.status().height === height + 1), 10_000, 5);
  }
  c.stop();
  return Array.from({ length: HEIGHT }, (_, at) => {
    const stored = c.node(0).committedBlock(at + 1);
    if (stored === null) throw new Error(`no block ${at + 1}`);
    return stored.encoded;
  });
}

/** A history in memory holding `chain` but the heights of GAP; `prevBelow` can be made to lie. */
class MemoryHistory implements LedgerHistory {
  readonly blocks = new Map<number, Uint8Array>();
  constructor(
    private readonly chain: Uint8Array[],
    private readonly prevBelow?: Hash,
  ) {
    chain.forEach((encoded, at) => {
      if (at + 1 < GAP.low || at + 1 > GAP.high) this.blocks.set(at + 1, encoded);
    });
  }

  gap(): BlockGap | null {
    const missing = [...Array(HEIGHT).keys()].map((at) => at + 1).filter((h) => !this.blocks.has(h));
    if (missing.length === 0) return null;
    const high = Math.max(...missing);
    let low = high;
    while (low > 1 && !this.blocks.has(low - 1)) low -= 1;
    const above = decodeBlock(this.blocks.get(high + 1) as Uint8Array).header;
    const below = low === 1 ? null : decodeBlock(this.blocks.get(low - 1) as Uint8Array).header;
    return {
      low,
      high,
      anchor: above.prev,
      raftIndexAbove: above.raftIndex,
      prevBelow: this.prevBelow ?? (below === null ? GENESIS_PREV_HASH : blockHash(below)),
      raftIndexBelow: below?.raftIndex ?? 0,
    };
  }

  encodedDown(top: number, count: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let height = top; height > top - count && this.chain[height - 1] !== undefined; height--) {
      out.push(this.chain[height - 1] as Uint8Array);
    }
    return out;
  }

  fill(blocks: readonly HistoryBlock[]): void {
    for (const { block, encoded } of blocks) {
      expect(this.blocks.has(block.header.height)).toBe(false);
      this.blocks.set(block.header.height, encoded);
    }
  }
}

/** A peer serving `chain` from the top down, with `lie` applied to each answered block. */
function peer(chain: Uint8Array[], lie: (encoded: Uint8Array, height: number) => Uint8Array) {
  return (payload: Uint8Array): Uint8Array => {
    const [kind, top, count] = decode(payload) as [string, number, number];
    expect(kind).toBe("blocks-down");
    const out: Uint8Array[] = [];
    for (let height = top; height > top - count && height >= 1; height--) {
      out.push(lie(chain[height - 1] as Uint8Array, height));
    }
    return encode(["ok", out]);
  };
}

function withBlock(encoded: Uint8Array, change: (block: Block) => Block): Uint8Array {
  return encodeBlock(change(decodeBlock(encoded)));
}

async function runBackfill(
  history: LedgerHistory,
  peers: Record<string, (payload: Uint8Array) => Uint8Array>,
) {
  const c = new Cluster(1);
  const broken: Error[] = [];
  const stored: number[] = [];
  const backfill = new Backfill({
    history,
    request: async (to, payload) => {
      const serve = peers[to];
      if (serve === undefined) throw new Error(`no peer ${to}`);
      return serve(payload);
    },
    sources: () => Object.keys(peers),
    clock: c.clock,
    logger: silentLogger,
    onStored: (blocks) => stored.push(...blocks.map((block) => block.block.header.height)),
    onBroken: (error) => broken.push(error),
  });
  backfill.kick();
  for (let step = 0; step < 2_000 && backfill.running; step++) {
    await new Promise((resolve) => setImmediate(resolve));
    c.clock.advance(50);
  }
  expect(backfill.running).toBe(false);
  return { backfill, broken, stored };
}

describe("block back-fill", () => {
  const chain = realChain();

  it("refuses junk, forged headers and swapped bodies, then fills the gap from an honest peer", async () => {
    const history = new MemoryHistory(chain);
    const { backfill, broken, stored } = await runBackfill(history, {
      junk: peer(chain, () => randomBytes(64)),
      forger: peer(chain, (encoded) =>
        withBlock(encoded, (block) => ({
          ...block,
          header: { ...block.header, time: block.header.time + 1 },
        })),
      ),
      swapper: peer(chain, (encoded, height) =>
        withBlock(encoded, (block) => {
          const other = decodeBlock(chain[height === 1 ? 1 : height - 2] as Uint8Array);
          return { ...block, txs: other.txs, results: other.results };
        }),
      ),
      throws: () => {
        throw new Error("connection reset");
      },
      honest: peer(chain, (encoded) => encoded),
    });
    expect(broken).toEqual([]);
    expect(stored.sort((a, b) => a - b)).toEqual([4, 5, 6, 7, 8, 9]);
    expect(backfill.stored).toBe(6);
    expect(backfill.refused).toBeGreaterThanOrEqual(3);
    for (let height = 1; height <= HEIGHT; height++) {
      expect(bytesEqual(history.blocks.get(height) as Uint8Array, chain[height - 1] as Uint8Array)).toBe(
        true,
      );
    }
    expect(history.gap()).toBeNull();
  });

  it("stops and reports a history that does not meet this node's own blocks", async () => {
    const history = new MemoryHistory(chain, randomBytes(32));
    const { broken } = await runBackfill(history, { honest: peer(chain, (encoded) => encoded) });
    expect(broken.map((error) => (error as { code?: string }).code)).toEqual(["LEDGER_DIVERGED"]);
  });

  it("waits out a full disk and stores the same blocks once there is room", async () => {
    const history = new MemoryHistory(chain);
    const fill = history.fill.bind(history);
    let refusals = 2;
    history.fill = (blocks) => {
      if (refusals-- > 0) throw new NodeError("STORAGE_FULL", "database or disk is full");
      fill(blocks);
    };
    const { broken, stored } = await runBackfill(history, { honest: peer(chain, (encoded) => encoded) });
    expect(broken).toEqual([]);
    expect(stored.sort((a, b) => a - b)).toEqual([4, 5, 6, 7, 8, 9]);
    expect(history.gap()).toBeNull();
  });

  it("waits and tries again while no peer holds the blocks", async () => {
    const history = new MemoryHistory(chain);
    let asked = 0;
    const { stored } = await runBackfill(history, {
      late: (payload) => {
        asked += 1;
        return asked < 4 ? encode(["ok", []]) : peer(chain, (encoded) => encoded)(payload);
      },
    });
    expect(asked).toBeGreaterThanOrEqual(4);
    expect(stored.length).toBe(6);
  });
});
