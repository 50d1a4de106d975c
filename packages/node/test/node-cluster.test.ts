// Goal: real nodes (SQLite files, libp2p over TCP on 127.0.0.1, the ledger driver) form a cluster,
// elect a leader, commit thousands of signed transactions submitted to different nodes, and end with
// identical blocks and app hashes. Method: N nodes in this process, then a block-by-block comparison.
import {
  decodeSignedTxWithId,
  encodeSignedTx as encodeTxBytes,
  fromHex as fromHexId,
  toHex,
} from "@medledger/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { type MedledgerNode, startNode } from "../src/node.js";
import { encodedTx, signerFor, type TestNetwork, testNetwork, waitFor } from "./node-helpers.js";

let running: MedledgerNode[] = [];
let net: TestNetwork | null = null;

afterEach(async () => {
  await Promise.all(running.map((node) => node.stop()));
  running = [];
  net?.cleanup();
  net = null;
});

async function startCluster(size: number, name: string): Promise<MedledgerNode[]> {
  net = await testNetwork(size, name);
  const layout = net;
  running = await Promise.all(
    layout.nodeSecrets.map((secret, index) =>
      startNode({
        dataDir: layout.dirs[index] as string,
        genesis: layout.genesis,
        nodeSecretKey: secret,
        listen: [layout.listen[index] as string],
        peers: layout.peersOf(index),
        tickMs: 50,
      }),
    ),
  );
  return running;
}

function leaderOf(nodes: MedledgerNode[]): MedledgerNode | undefined {
  const leaders = nodes.filter((node) => node.ledger.status().role === "leader");
  return leaders.length === 1 ? leaders[0] : undefined;
}

async function commitThrough(nodes: MedledgerNode[], chain: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let index = 0; index < count; index++) {
    const encoded = encodedTx(chain, "patient.register", signerFor(`${chain}-patient-${index}`), {});
    ids.push(toHex(decodeSignedTxWithId(encoded).id));
    (nodes[index % nodes.length] as MedledgerNode).ledger.submit(encoded);
    if (index % 500 === 499) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  // Cheap polls first (every node's mempool drained, one height), then one full check.
  await waitFor(
    () => {
      const heights = new Set(nodes.map((node) => node.ledger.status().height));
      return heights.size === 1 && nodes.every((node) => node.ledger.mempool.size === 0);
    },
    90_000,
    `${count} transactions drained from every mempool`,
  );
  await waitFor(
    () => nodes.every((node) => ids.every((id) => node.ledger.committedTx(fromHexId(id)) !== null)),
    30_000,
    `${count} transactions committed on every node`,
  );
  return ids;
}

function expectIdenticalChains(nodes: MedledgerNode[], ids: readonly string[]): void {
  const reference = nodes[0] as MedledgerNode;
  const height = reference.ledger.status().height;
  for (const node of nodes) {
    expect(node.ledger.haltedBy).toBeNull();
    expect(node.ledger.status().height).toBe(height);
    expect(node.ledger.status().appHash).toBe(reference.ledger.status().appHash);
    expect(node.ledger.status().blockHash).toBe(reference.ledger.status().blockHash);
    for (let at = 1; at <= height; at++) {
      expect(toHex(node.ledger.committedBlock(at)?.encoded ?? new Uint8Array())).toBe(
        toHex(reference.ledger.committedBlock(at)?.encoded ?? new Uint8Array()),
      );
    }
    const seen = new Set<string>();
    for (let at = 1; at <= height; at++) {
      for (const signed of node.ledger.committedBlock(at)?.block.txs ?? []) {
        const id = toHex(decodeSignedTxWithId(encodeTxBytes(signed)).id);
        expect(seen.has(id), `transaction ${id} twice`).toBe(false);
        seen.add(id);
      }
    }
    for (const id of ids) expect(seen.has(id)).toBe(true);
  }
}

describe("a cluster of real nodes over TCP", () => {
  it("3 nodes elect a leader and commit 3,000 transactions with identical chains", async () => {
    const nodes = await startCluster(3, "three");
    await waitFor(() => leaderOf(nodes) !== undefined, 20_000, "a leader");
    const leader = leaderOf(nodes);
    for (const node of nodes)
      await waitFor(() => node.ledger.status().leader === leader?.id, 10_000, "agreement");
    const ids = await commitThrough(nodes, net?.chain ?? "", 3000);
    expectIdenticalChains(nodes, ids);
    expect(nodes.every((node) => node.network.peers().length === 2)).toBe(true);
  });

  it("5 nodes elect a leader and commit 2,000 transactions with identical chains", async () => {
    const nodes = await startCluster(5, "five");
    await waitFor(() => leaderOf(nodes) !== undefined, 20_000, "a leader");
    const ids = await commitThrough(nodes, net?.chain ?? "", 2000);
    expectIdenticalChains(nodes, ids);
  });

  it("a restarted node rejoins from its database and catches up", async () => {
    const nodes = await startCluster(3, "restart");
    const layout = net as TestNetwork;
    await waitFor(() => leaderOf(nodes) !== undefined, 20_000, "a leader");
    await commitThrough(nodes, layout.chain, 200);
    const victimIndex = nodes.findIndex((node) => node.ledger.status().role !== "leader");
    await (nodes[victimIndex] as MedledgerNode).stop();
    const others = nodes.filter((_, index) => index !== victimIndex);
    const more = await commitThrough(others, layout.chain, 300);
    const restarted = await startNode({
      dataDir: layout.dirs[victimIndex] as string,
      genesis: layout.genesis,
      nodeSecretKey: layout.nodeSecrets[victimIndex] as Uint8Array,
      listen: [layout.listen[victimIndex] as string],
      peers: layout.peersOf(victimIndex),
      tickMs: 50,
    });
    running[victimIndex] = restarted;
    await waitFor(
      () => more.every((id) => restarted.ledger.committedTx(fromHexId(id)) !== null),
      60_000,
      "the restarted node to catch up",
    );
    expect(restarted.ledger.status().appHash).toBe(others[0]?.ledger.status().appHash);
  });
});
