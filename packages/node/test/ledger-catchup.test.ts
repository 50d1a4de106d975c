// Goal: a node that was down while the cluster committed many blocks catches up when it returns: from
// the Raft log alone (1,000 blocks, no snapshot yet), and past a compacted log through a snapshot and
// state transfer followed by the log's tail (10,000 blocks, a snapshot every 4,000 entries); then it
// back-fills the blocks the snapshot skipped, so that it holds every block, byte for byte the others'.
// Method: the in-process harness (production driver, SQLite stores; only the wire is simulated); one
// node is stopped, the others commit one-transaction blocks, the node restarts on its database.
import { type SignedTx, type Signer, txId } from "@medledger/protocol";
import { describe, expect, it } from "vitest";
import { LedgerNode } from "../src/ledger/ledger-node.js";
import { SqliteLedgerStore } from "../src/ledger/sqlite-store.js";
import { openChainDb } from "../src/storage/db.js";
import { Cluster, signerOf } from "./ledger-harness.js";

const cases = [
  { blocks_while_down: 1_000, snapshotEveryEntries: 100_000, viaSnapshot: false },
  { blocks_while_down: 10_000, snapshotEveryEntries: 4_000, viaSnapshot: true },
];

describe("catch-up", () => {
  it.each(cases)(
    "a node down for $blocks_while_down blocks catches up (snapshot: $viaSnapshot)",
    async ({ blocks_while_down, snapshotEveryEntries, viaSnapshot }) => {
      const stores: SqliteLedgerStore[] = [];
      const c = new Cluster(
        3,
        (genesis) => {
          const store = new SqliteLedgerStore(openChainDb({ path: ":memory:" }), genesis);
          stores.push(store);
          return store;
        },
        { snapshotEveryEntries },
      );
      c.start();
      c.runUntil(() => c.leader() !== null);
      const downIndex = c.nodes.findIndex((node) => node.status().role !== "leader");
      const down = c.node(downIndex);
      down.stop();
      const up = c.nodes.filter((node) => node !== down);
      const started = Date.now();
      for (let index = 0; index < blocks_while_down; index++) {
        const height = (up[0] as LedgerNode).status().height;
        (up[index % 2] as LedgerNode).submit(c.tx("patient.register", signerOf(`catchup-${index}`), {}));
        c.runUntil(() => up.every((node) => node.status().height === height + 1), 10_000, 5);
      }
      const produced_ms = Date.now() - started;
      const target = (up[0] as LedgerNode).status();
      expect(target.height).toBe(blocks_while_down);
      expect(down.status().height).toBe(0);

      const restarted = new LedgerNode({
        genesis: c.genesis,
        signer: c.nodeSigners[downIndex] as Signer,
        store: stores[downIndex] as SqliteLedgerStore,
        transport: c.hub.transport(down.id),
        clock: c.clock,
        tickMs: 100,
        snapshotEveryEntries,
      });
      c.nodes[downIndex] = restarted;
      restarted.start();
      const catchUpStarted = Date.now();
      await c.runUntilAsync(() => restarted.status().height === target.height, 600_000, 20);
      const caught_ms = Date.now() - catchUpStarted;
      expect(restarted.status().appHash).toBe(target.appHash);
      expect(restarted.status().blockHash).toBe(target.blockHash);
      expect(restarted.status().snapshotIndex > 0).toBe(viaSnapshot);
      // The history: every block, the same bytes as a node that applied them all.
      const store = stores[downIndex] as SqliteLedgerStore;
      const reference = stores.find(
        (other, index) => index !== downIndex && other !== undefined,
      ) as SqliteLedgerStore;
      await c.runUntilAsync(() => store.history.gap() === null, 600_000, 20);
      const filled = restarted.backfillStats;
      expect(filled.stored > 0).toBe(viaSnapshot);
      expect(filled.refused).toBe(0);
      for (let height = 1; height <= target.height; height++) {
        const ours = store.getBlock(height);
        expect(ours, `block ${height}`).not.toBeNull();
        expect(
          Buffer.from(ours?.encoded ?? []).equals(Buffer.from(reference.getBlock(height)?.encoded ?? [])),
        ).toBe(true);
      }
      const last = reference.getBlock(target.height)?.block.txs[0];
      expect(store.getTx(txId((last as SignedTx).tx))?.height).toBe(target.height);
      c.stop();
      console.log(
        `catch-up: ${blocks_while_down} blocks produced in ${produced_ms} ms, caught up in ${caught_ms} ms`,
      );
    },
    600_000,
  );
});
