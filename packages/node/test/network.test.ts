// Goal: the three channels of the network work between real libp2p nodes. Method: real TCP on 127.0.0.1,
// small clusters started per test and stopped in afterEach; assertions on delivery, order and errors.

import { afterEach, describe, expect, it } from "vitest";
import {
  hasNodeErrorCode,
  limits,
  type Network,
  peerIdFromPublicKey,
  publicKeyFromPeerId,
} from "../src/index.js";
import { gossipHealthCheck } from "../src/network/gossip.js";
import {
  numberedFrame,
  publicKeyOf,
  readNumberedFrame,
  seedOf,
  startCluster,
  startNode,
  stopAll,
  waitFor,
} from "./helpers.js";

afterEach(stopAll);

/** Collects direct frames per sender, as (sender, sequence) pairs in arrival order. */
function collectDirect(node: Network): Map<string, number[]> {
  const received = new Map<string, number[]>();
  node.onDirect((peer, frame) => {
    const list = received.get(peer) ?? [];
    list.push(readNumberedFrame(frame).sequence);
    received.set(peer, list);
  });
  return received;
}

describe("identity", () => {
  it("derives the peer id from the seed's ed25519 public key, both ways", async () => {
    const publicKey = await publicKeyOf(seedOf(7));
    const node = await startNode({ seed: seedOf(7) });
    expect(node.peerId).toBe(peerIdFromPublicKey(publicKey));
    expect(publicKeyFromPeerId(node.peerId)).toEqual(publicKey);
    expect(node.addresses().every((address) => address.endsWith(`/p2p/${node.peerId}`))).toBe(true);
    expect(() => publicKeyFromPeerId("not-a-peer-id")).toThrowError(
      expect.objectContaining({ code: "PEER_INVALID" }),
    );
  });
});

describe("direct channel", () => {
  it("three nodes exchange frames in both directions, in order", async () => {
    const nodes = await startCluster(3);
    const received = nodes.map(collectDirect);
    const per_pair = 50;
    for (const [from, node] of nodes.entries()) {
      for (const other of nodes) {
        if (other === node) continue;
        for (let sequence = 0; sequence < per_pair; sequence++) {
          expect(node.send(other.peerId, numberedFrame(from, sequence))).toBe(true);
        }
      }
    }
    const complete = () =>
      received.every((map) => map.size === 2 && [...map.values()].every((l) => l.length === per_pair));
    await waitFor(complete, "every frame delivered");
    const in_order = Array.from({ length: per_pair }, (_, index) => index);
    for (const [index, map] of received.entries()) {
      for (const [peer, sequences] of map) {
        expect(peer).not.toBe(nodes[index]!.peerId);
        expect(sequences).toEqual(in_order);
      }
    }
  });

  it("10,000 frames over one stream all arrive, in order", async () => {
    const [a, b] = await startCluster(2);
    const received = collectDirect(b!);
    const count = 10_000;
    let accepted = 0;
    for (let sequence = 0; sequence < count; sequence++)
      if (a!.send(b!.peerId, numberedFrame(1, sequence, 100))) accepted++;
    expect(accepted).toBe(count);
    await waitFor(() => (received.get(a!.peerId)?.length ?? 0) >= count, "10,000 frames", 15_000);
    const sequences = received.get(a!.peerId)!;
    expect(sequences.length).toBe(count);
    expect(sequences.every((sequence, index) => sequence === index)).toBe(true);
  });

  it("refuses a frame over the limit at the sender, and needs a started network", async () => {
    const [a, b] = await startCluster(2);
    const oversized = new Uint8Array(limits.direct_frame_bytes_max + 1);
    expect(() => a!.send(b!.peerId, oversized)).toThrowError(
      expect.objectContaining({ code: "FRAME_TOO_LARGE" }),
    );
    await a!.stop();
    expect(() => a!.send(b!.peerId, numberedFrame(1, 0))).toThrowError(
      expect.objectContaining({ code: "NOT_STARTED" }),
    );
  });
});

describe("request/response channel", () => {
  it("answers requests and maps failures to stable codes", async () => {
    const [a, b] = await startCluster(2);
    b!.onRequest(async (peer, payload) => {
      expect(peer).toBe(a!.peerId);
      if (payload[0] === 0xee) throw new Error("refuse");
      if (payload[0] === 0xdd) return new Uint8Array(4096);
      return Uint8Array.from([...payload].reverse());
    });
    const response = await a!.request(b!.peerId, Uint8Array.of(1, 2, 3), { timeoutMs: 5_000 });
    expect([...response]).toEqual([3, 2, 1]);
    const refused = a!.request(b!.peerId, Uint8Array.of(0xee), { timeoutMs: 5_000 });
    await expect(refused).rejects.toMatchObject({ code: "REQUEST_REFUSED" });
    const large = a!.request(b!.peerId, Uint8Array.of(0xdd), { timeoutMs: 5_000, maxResponseBytes: 1024 });
    await expect(large).rejects.toMatchObject({ code: "RESPONSE_TOO_LARGE" });
    const too_big = new Uint8Array(limits.request_bytes_max + 1);
    await expect(a!.request(b!.peerId, too_big, { timeoutMs: 5_000 })).rejects.toMatchObject({
      code: "REQUEST_TOO_LARGE",
    });
    // The connection survives all of that.
    expect(await a!.request(b!.peerId, Uint8Array.of(9), { timeoutMs: 5_000 })).toEqual(Uint8Array.of(9));
  });

  it("times out when the handler does not answer in time", async () => {
    const [a, b] = await startCluster(2);
    b!.onRequest(
      () => new Promise<Uint8Array>((resolve) => setTimeout(() => resolve(Uint8Array.of(1)), 2_000)),
    );
    const started = Date.now();
    const error: unknown = await a!.request(b!.peerId, Uint8Array.of(1), { timeoutMs: 300 }).catch((e) => e);
    expect(hasNodeErrorCode(error, "NETWORK_TIMEOUT")).toBe(true);
    expect(Date.now() - started).toBeLessThan(1_500);
  });
});

describe("gossip channel", () => {
  it("a published message reaches every other node once", async () => {
    const nodes = await startCluster(3);
    const received = nodes.map(() => [] as string[]);
    for (const [index, node] of nodes.entries()) {
      node.onGossip((_peer, payload) => {
        received[index]!.push(Buffer.from(payload).toString());
      });
    }
    await waitFor(() => nodes.every((node) => node.gossipPeers().length === 2), "gossip subscriptions");
    await nodes[0]!.publish(Buffer.from("batch-1"));
    await nodes[2]!.publish(Buffer.from("batch-2"));
    await waitFor(
      () => received[1]!.length === 2 && received[0]!.length === 1 && received[2]!.length === 1,
      "gossip",
    );
    expect(received[1]!.sort()).toEqual(["batch-1", "batch-2"]);
    expect(received[0]).toEqual(["batch-2"]);
    expect(received[2]).toEqual(["batch-1"]);
    const oversized = new Uint8Array(limits.gossip_message_bytes_max + 1);
    await expect(nodes[0]!.publish(oversized)).rejects.toMatchObject({ code: "MESSAGE_TOO_LARGE" });
  });
});

describe("gossip health", () => {
  it("asks to reset a connected peer missing from the subscribers for missesMax checks in a row", () => {
    const misses = new Map<string, number>();
    const connected = new Set(["a", "b", "c"]);
    expect(gossipHealthCheck(misses, connected, new Set(["a", "b"]), 3)).toEqual([]);
    expect(gossipHealthCheck(misses, connected, new Set(["a", "b"]), 3)).toEqual([]);
    // c came back for one check: its count starts again.
    expect(gossipHealthCheck(misses, connected, new Set(["a", "b", "c"]), 3)).toEqual([]);
    expect(gossipHealthCheck(misses, connected, new Set(["a"]), 3)).toEqual([]);
    expect(gossipHealthCheck(misses, connected, new Set(["a"]), 3)).toEqual([]);
    expect(gossipHealthCheck(misses, connected, new Set(["a"]), 3)).toEqual(["b", "c"]);
    expect(misses.size).toBe(0);
    // A peer that disconnected is forgotten.
    gossipHealthCheck(misses, connected, new Set(["a", "b"]), 3);
    expect(misses.get("c")).toBe(1);
    gossipHealthCheck(misses, new Set(["a", "b"]), new Set(["a", "b"]), 3);
    expect(misses.has("c")).toBe(false);
  });
});
