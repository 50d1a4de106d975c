// Goal: a real node refuses peers that are not members' nodes, and survives a member's node that sends
// junk: malformed Raft frames, transactions for another chain, junk gossip. Method: three nodes over
// TCP on 127.0.0.1; an outsider with its own key, then node 2's key used by a raw network that misbehaves.
import { encode } from "cborg";
import { afterEach, describe, expect, it } from "vitest";
import { encodeGossipBatch } from "../src/ledger/gossip-batch.js";
import { createNetwork, type Network } from "../src/network/network.js";
import { type MedledgerNode, startNode } from "../src/node.js";
import { encodedTx, secretOf, signerFor, type TestNetwork, testNetwork, waitFor } from "./node-helpers.js";

let running: MedledgerNode[] = [];
let raw: Network[] = [];
let net: TestNetwork | null = null;

afterEach(async () => {
  await Promise.all(raw.map((network) => network.stop()));
  await Promise.all(running.map((node) => node.stop()));
  raw = [];
  running = [];
  net?.cleanup();
  net = null;
});

async function commitOne(nodes: MedledgerNode[], chain: string, name: string): Promise<void> {
  const before = nodes.map((node) => node.ledger.status().height);
  (nodes[0] as MedledgerNode).ledger.submit(encodedTx(chain, "patient.register", signerFor(name), {}));
  await waitFor(
    () => nodes.every((node, index) => node.ledger.status().height > (before[index] as number)),
    20_000,
    "a commit",
  );
}

describe("a node against outsiders and misbehaving members", () => {
  it("refuses a peer whose key belongs to no member, and keeps committing", async () => {
    net = await testNetwork(3, "outsider");
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
    const outsider = await createNetwork({
      seed: secretOf("outsider"),
      chainId: layout.chain,
      isAllowedPeer: () => true,
      peers: layout.addresses,
    });
    raw.push(outsider);
    await outsider.start();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    for (const node of running) expect(node.network.peers()).not.toContain(outsider.peerId);
    await commitOne(running, layout.chain, "outsider-check");
  });

  it("survives junk Raft frames, wrong-chain and junk gossip from a member's key, and keeps committing", async () => {
    net = await testNetwork(3, "junk");
    const layout = net;
    running = await Promise.all(
      [0, 1].map((index) =>
        startNode({
          dataDir: layout.dirs[index] as string,
          genesis: layout.genesis,
          nodeSecretKey: layout.nodeSecrets[index] as Uint8Array,
          listen: [layout.listen[index] as string],
          peers: layout.peersOf(index),
          tickMs: 50,
        }),
      ),
    );
    const rogue = await createNetwork({
      seed: layout.nodeSecrets[2] as Uint8Array,
      chainId: layout.chain,
      isAllowedPeer: () => true,
      listen: [layout.listen[2] as string],
      peers: layout.peersOf(2),
    });
    raw.push(rogue);
    await rogue.start();
    const target = running[0] as MedledgerNode;
    await waitFor(() => target.network.peers().includes(rogue.peerId), 10_000, "the rogue to connect");
    const targetPeer = target.network.addresses()[0]?.split("/p2p/")[1] as string;
    let cutOff = false;
    rogue.onPeerDisconnected((peer) => {
      if (peer === targetPeer) cutOff = true;
    });
    rogue.send(targetPeer, new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
    rogue.send(targetPeer, encode([1, 99, "x", "y", 0, 0, 0, [], 0, false, 0, null, "", false]));
    await rogue.publish(
      encodeGossipBatch([encodedTx("another-chain", "patient.register", signerFor("wrong-chain"), {})]),
    );
    await rogue.publish(new Uint8Array([1, 2, 3]));
    await waitFor(() => cutOff, 10_000, "the node to disconnect the misbehaving peer");
    expect(target.ledger.haltedBy).toBeNull();
    expect(target.ledger.mempool.size).toBe(0);
    // Two of three voters still form a quorum: the honest pair elects and commits.
    await waitFor(() => running.some((node) => node.ledger.status().role === "leader"), 20_000, "a leader");
    await commitOne(running, layout.chain, "junk-check");
  });
});
