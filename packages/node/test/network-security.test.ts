// Goal: only members' nodes reach this node, and a peer that breaks the wire protocol is cut off while the
// node keeps serving the others. Method: real libp2p over TCP on 127.0.0.1; an outsider key for the gater
// tests, and a raw libp2p node (a member's key) that writes hostile bytes on the direct protocol.

import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { generateKeyPairFromSeed } from "@libp2p/crypto/keys";
import type { Libp2p } from "@libp2p/interface";
import { tcp } from "@libp2p/tcp";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";
import { afterEach, describe, expect, it } from "vitest";
import { chainProtocols, limits, type Network, noopNetworkMetrics } from "../src/index.js";
import {
  chain_id,
  Membership,
  numberedFrame,
  publicKeyOf,
  seedOf,
  sleep,
  startCluster,
  startNode,
  stopAll,
  waitFor,
} from "./helpers.js";

const raw_nodes: Libp2p[] = [];

afterEach(async () => {
  await Promise.all(raw_nodes.splice(0).map((node) => node.stop()));
  await stopAll();
});

/** A bare libp2p node with the same transports, for writing bytes the Network API would never send. */
async function startRawNode(seed: Uint8Array): Promise<Libp2p> {
  const node = await createLibp2p({
    privateKey: await generateKeyPairFromSeed("Ed25519", seed),
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
  });
  raw_nodes.push(node);
  return node;
}

/** Records every peer that connects to `node`. */
function connectedPeers(node: Network): Set<string> {
  const seen = new Set<string>();
  node.onPeerConnected((peer) => seen.add(peer));
  return seen;
}

describe("connection gater", () => {
  it("refuses an outsider in both directions, and the outsider cannot send anything", async () => {
    const membership = new Membership();
    const [a] = await startCluster(1, membership);
    const seen_by_a = connectedPeers(a!);
    let frames_at_a = 0;
    let gossip_at_a = 0;
    a!.onDirect(() => frames_at_a++);
    a!.onGossip(() => gossip_at_a++);
    a!.onRequest(async () => Uint8Array.of(1));
    // The outsider allows everyone and dials a; a refuses it after the Noise handshake.
    const outsider = await startNode({ seed: seedOf(66), peers: a!.addresses() });
    // a is told to dial the outsider too; a's gater refuses to dial it.
    const a_dialler = await startNode({
      seed: seedOf(2),
      isAllowedPeer: membership.allows,
      peers: outsider.addresses(),
    });
    membership.add(await publicKeyOf(seedOf(2)));
    outsider.send(a!.peerId, numberedFrame(66, 0));
    const request = outsider.request(a!.peerId, Uint8Array.of(1), { timeoutMs: 2_000 });
    await expect(request).rejects.toMatchObject({
      code: expect.stringMatching(/REQUEST_FAILED|NETWORK_TIMEOUT/),
    });
    await outsider.publish(Uint8Array.of(1, 2, 3));
    await sleep(1_000);
    expect(seen_by_a.has(outsider.peerId)).toBe(false);
    expect(a!.peers()).not.toContain(outsider.peerId);
    expect(outsider.peers()).toEqual([]);
    expect(a_dialler.peers()).not.toContain(outsider.peerId);
    expect(frames_at_a).toBe(0);
    expect(gossip_at_a).toBe(0);
  });

  it("disconnects a peer once the membership no longer allows it", async () => {
    const membership = new Membership();
    const [a, b] = await startCluster(2, membership);
    membership.remove(await publicKeyOf(seedOf(2)));
    await a!.revalidatePeers();
    await waitFor(() => !a!.peers().includes(b!.peerId) && b!.peers().length === 0, "b disconnected");
    expect(a!.send(b!.peerId, numberedFrame(1, 0))).toBe(true);
    await sleep(300);
    expect(b!.peers()).toEqual([]);
  });
});

describe("misbehaving peers", () => {
  const cases = [
    {
      name: "a frame over the size limit",
      bytes: prefixOf(limits.direct_frame_bytes_max + 1),
      reason: "frame_too_large",
    },
    {
      name: "a garbage length prefix",
      bytes: Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
      reason: "frame_malformed",
    },
  ];
  for (const { name, bytes, reason } of cases) {
    it(`${name} makes the receiver disconnect the sender while it keeps serving the others`, async () => {
      const membership = new Membership();
      membership.add(await publicKeyOf(seedOf(9)));
      const misbehaviours: string[] = [];
      const metrics = { ...noopNetworkMetrics, misbehaviour: (reason: string) => misbehaviours.push(reason) };
      const [a, b] = await startCluster(2, membership, (n) => (n === 1 ? { metrics } : {}));
      const frames_from_b: number[] = [];
      a!.onDirect((peer) => {
        if (peer === b!.peerId) frames_from_b.push(1);
      });
      const raw = await startRawNode(seedOf(9));
      const target = multiaddr(a!.addresses()[0]!);
      const stream = await raw.dialProtocol(target, chainProtocols(chain_id).direct);
      await waitFor(() => a!.peers().includes(raw.peerId.toString()), "raw peer connected");
      stream.send(bytes);
      await waitFor(() => raw.getConnections().length === 0, "raw peer disconnected");
      expect(a!.peers()).not.toContain(raw.peerId.toString());
      expect(misbehaviours).toEqual([reason]);
      // The ban keeps it out for a while: a redial is cut after a's side of the Noise handshake.
      await raw.dial(target).catch(() => undefined);
      await waitFor(() => raw.getConnections().length === 0, "redial refused");
      expect(a!.peers()).not.toContain(raw.peerId.toString());
      // a keeps serving b.
      for (let sequence = 0; sequence < 10; sequence++) b!.send(a!.peerId, numberedFrame(2, sequence));
      await waitFor(() => frames_from_b.length === 10, "b's frames after the misbehaviour");
      expect(a!.peers()).toContain(b!.peerId);
    });
  }
});

/** The varint length prefix claiming a frame of `length` bytes (no body follows). */
function prefixOf(length: number): Uint8Array {
  const bytes: number[] = [];
  let rest = length;
  while (rest >= 0x80) {
    bytes.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  bytes.push(rest);
  return Uint8Array.from(bytes);
}
