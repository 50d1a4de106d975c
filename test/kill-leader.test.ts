// Goal: a leader SIGKILLed under load loses nothing that was acknowledged. Method: three real node
// processes on 127.0.0.1; a workload submits batches to random nodes and records as acknowledged only
// what a node reported committed; the leader is SIGKILLed mid-load and restarted later. Afterwards every
// node's SQLite file is read: every acknowledged id is there exactly once, and the chains are identical.
import { join } from "node:path";
import { CHAIN_DB_FILE, openChainDb } from "@medledger/node";
import {
  AUTHENTICITY_CODES,
  decodeSignedTxWithId,
  fromHex,
  type ReasonCode,
  toHex,
} from "@medledger/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { ProcessCluster, signerOf } from "./harness/process-cluster.js";

let cluster: ProcessCluster | null = null;
afterEach(async () => {
  await cluster?.destroy();
  cluster = null;
});

const batch_txs = 40;

async function waitForLeader(c: ProcessCluster, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const leader = await c.leader();
    if (leader >= 0) return leader;
    if (Date.now() > deadline) throw new Error("no leader elected");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("SIGKILL of the leader under load", () => {
  it("elects a new leader and keeps every acknowledged transaction exactly once on every node", async () => {
    const c = await ProcessCluster.create(3, "kill");
    cluster = c;
    await c.startAll();
    const firstLeader = await waitForLeader(c, 20_000);
    const firstTerm = ((await c.request(firstLeader, "status")).status as { term: number }).term;

    const acked = new Set<string>();
    let submitted = 0;
    let stop = false;
    let counter = 0;
    const workload = async (worker: number): Promise<void> => {
      while (!stop) {
        const target = (worker + counter++) % 3;
        const txs = Array.from({ length: batch_txs }, () =>
          c.tx("patient.register", signerOf(`kill-patient-${counter++}`), {}),
        );
        const ids = txs.map((hex) => toHex(idOfHex(hex)));
        const answer = await c.request(target, "submit", { txs });
        if (answer.error !== undefined) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          continue;
        }
        submitted += txs.length;
        const waited = await c.request(target, "wait", { ids, timeoutMs: 5_000 });
        for (const entry of (waited.committed as Array<{ id: string }> | undefined) ?? [])
          acked.add(entry.id);
      }
    };
    const workers = [0, 1, 2].map(workload);

    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const ackedBeforeKill = acked.size;
    await c.signal(firstLeader, "SIGKILL");
    const survivors = [0, 1, 2].filter((index) => index !== firstLeader);
    const newLeader = await waitForLeader(c, 20_000);
    expect(survivors).toContain(newLeader);
    const newTerm = ((await c.request(newLeader, "status")).status as { term: number }).term;
    expect(newTerm).toBeGreaterThan(firstTerm);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await c.start(firstLeader);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    stop = true;
    await Promise.all(workers);

    // Every node converges on one height.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const statuses = await Promise.all([0, 1, 2].map((index) => c.request(index, "status")));
      const heights = new Set(statuses.map((answer) => (answer.status as { height: number }).height));
      const mempools = statuses.map((answer) => (answer.status as { mempoolSize: number }).mempoolSize);
      if (heights.size === 1 && mempools.every((size) => size === 0)) break;
      if (Date.now() > deadline) {
        throw new Error(`no convergence: heights ${[...heights]}, mempools ${mempools}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    for (const index of [0, 1, 2]) await c.signal(index, "SIGTERM");

    expect(ackedBeforeKill).toBeGreaterThan(0);
    expect(acked.size).toBeGreaterThan(ackedBeforeKill);
    expect(submitted).toBeGreaterThanOrEqual(acked.size);
    const chains = [0, 1, 2].map((index) => readChain(join(c.dirs[index] as string, CHAIN_DB_FILE)));
    const reference = chains[0] as ChainDump;
    for (const chain of chains) {
      expect(chain.blocks).toEqual(reference.blocks);
      expect(chain.integrity).toBe(true);
      for (const id of acked) expect(chain.authoritativeRows.get(id) ?? 0, `acked ${id}`).toBe(1);
    }
  }, 180_000);
});

interface ChainDump {
  blocks: string[];
  authoritativeRows: Map<string, number>;
  integrity: boolean;
}

function readChain(path: string): ChainDump {
  const db = openChainDb({ path });
  try {
    const blocks = (
      db.sqlite.prepare("SELECT hash FROM blocks ORDER BY height").all() as Array<{ hash: Buffer }>
    ).map((row) => toHex(new Uint8Array(row.hash)));
    const authoritativeRows = new Map<string, number>();
    // Transaction rows only locate (id, height, index); each result is read from its block.
    for (const row of db.sqlite.prepare("SELECT id, height, tx_index FROM txs").all() as Array<{
      id: Buffer;
      height: number;
      tx_index: number;
    }>) {
      const result = db.blocks.blockAt(row.height)?.block.results[row.tx_index];
      expect(result, `the result of row ${row.height}:${row.tx_index}`).toBeDefined();
      const code = (result as { code: string }).code;
      if (AUTHENTICITY_CODES.has(code as ReasonCode) || code === "tx-replayed") continue;
      const id = toHex(new Uint8Array(row.id));
      authoritativeRows.set(id, (authoritativeRows.get(id) ?? 0) + 1);
    }
    return { blocks, authoritativeRows, integrity: db.integrityCheck().ok };
  } finally {
    db.close();
  }
}

function idOfHex(hex: string): Uint8Array {
  return decodeSignedTxWithId(fromHex(hex)).id;
}
