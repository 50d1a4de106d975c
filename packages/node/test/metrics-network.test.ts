// Goal: the network layer's counters reach GET /metrics, in the same registry as the API's, so that an
// operator sees a cluster's traffic and a peer that is refused and cut off (the chaos suite had to count
// log lines). Method: the prom-client hooks on a bare registry; then real nodes (SQLite, libp2p over TCP
// on 127.0.0.1, the HTTP API) scraped over HTTP: an honest cluster committing, and a member's key used
// by a raw network (junk gossip, a junk Raft frame) and then by a bare libp2p node (a broken length
// prefix on the direct protocol).
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { generateKeyPairFromSeed } from "@libp2p/crypto/keys";
import type { Libp2p } from "@libp2p/interface";
import { tcp } from "@libp2p/tcp";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { createNetwork, type Network } from "../src/network/network.js";
import { createPromNetworkMetrics } from "../src/network/prom-metrics.js";
import { chainProtocols } from "../src/network/protocols.js";
import { type MedledgerNode, startNode } from "../src/node.js";
import { encodedTx, signerFor, type TestNetwork, testNetwork, waitFor } from "./node-helpers.js";

let running: MedledgerNode[] = [];
let raw: Network[] = [];
let bare: Libp2p[] = [];
let net: TestNetwork | null = null;

afterEach(async () => {
  await Promise.all(bare.map((node) => node.stop()));
  await Promise.all(raw.map((network) => network.stop()));
  await Promise.all(running.map((node) => node.stop()));
  bare = [];
  raw = [];
  running = [];
  net?.cleanup();
  net = null;
});

/** One sample of the Prometheus text exposition: name, labels, value. */
interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1] as string] = pair[2] as string;
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the one sample named `name` whose labels include `labels`; undefined when absent. */
function sampleOf(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = parseSamples(text).filter(
    (sample) =>
      sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

async function scrape(node: MedledgerNode): Promise<string> {
  const response = await fetch(`${node.apiUrl}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("text/plain");
  return response.text();
}

/** Scrapes `node` every 100 ms until `condition` holds on the text; returns that text. */
async function scrapeUntil(
  node: MedledgerNode,
  condition: (text: string) => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await scrape(node);
    if (condition(text)) return text;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function startApiNodes(layout: TestNetwork, indexes: number[]): Promise<MedledgerNode[]> {
  return Promise.all(
    indexes.map((index) =>
      startNode({
        dataDir: layout.dirs[index] as string,
        genesis: layout.genesis,
        nodeSecretKey: layout.nodeSecrets[index] as Uint8Array,
        listen: [layout.listen[index] as string],
        peers: layout.peersOf(index),
        tickMs: 50,
        api: { host: "127.0.0.1", port: 0 },
      }),
    ),
  );
}

const CHANNELS = ["direct", "request", "gossip"] as const;

describe("the prom-client network metrics", () => {
  it("expose every bounded series at 0 and count what the hooks report", async () => {
    const registry = new Registry();
    const metrics = createPromNetworkMetrics(registry);
    const before = await registry.metrics();
    for (const channel of CHANNELS) {
      for (const direction of ["in", "out"]) {
        expect(sampleOf(before, "medledger_network_frames_total", { channel, direction })).toBe(0);
        expect(sampleOf(before, "medledger_network_frame_bytes_total", { channel, direction })).toBe(0);
      }
      expect(sampleOf(before, "medledger_network_frames_dropped_total", { channel, reason: "invalid" })).toBe(
        0,
      );
    }
    for (const reason of ["frame_too_large", "frame_malformed", "ledger_refused"]) {
      expect(sampleOf(before, "medledger_peer_misbehaviour_total", { reason })).toBe(0);
    }
    metrics.frameIn("direct", 10);
    metrics.frameIn("direct", 5);
    metrics.frameOut("gossip", 100);
    metrics.frameDropped("gossip", "invalid");
    metrics.frameDropped("direct", "queue_full");
    metrics.frameDropped("direct", "queue_full");
    metrics.misbehaviour("frame_malformed");
    metrics.queueDepth("direct", 7);
    metrics.peersConnected(3);
    const after = await registry.metrics();
    expect(sampleOf(after, "medledger_network_frames_total", { channel: "direct", direction: "in" })).toBe(2);
    expect(
      sampleOf(after, "medledger_network_frame_bytes_total", { channel: "direct", direction: "in" }),
    ).toBe(15);
    expect(sampleOf(after, "medledger_network_frames_total", { channel: "gossip", direction: "out" })).toBe(
      1,
    );
    expect(
      sampleOf(after, "medledger_network_frame_bytes_total", { channel: "gossip", direction: "out" }),
    ).toBe(100);
    expect(
      sampleOf(after, "medledger_network_frames_dropped_total", { channel: "gossip", reason: "invalid" }),
    ).toBe(1);
    expect(
      sampleOf(after, "medledger_network_frames_dropped_total", { channel: "direct", reason: "queue_full" }),
    ).toBe(2);
    expect(sampleOf(after, "medledger_peer_misbehaviour_total", { reason: "frame_malformed" })).toBe(1);
    expect(sampleOf(after, "medledger_network_queue_depth", { channel: "direct" })).toBe(7);
    // Peers are the API's medledger_peers_connected (read when scraped), not a second gauge.
    expect(after).not.toContain("medledger_peers_connected");
  });
});

describe("a node's network metrics on GET /metrics", () => {
  it("grow with an honest cluster's traffic, next to the API's metrics, with no peer ids as labels", async () => {
    net = await testNetwork(3, "metrics-cluster");
    const layout = net;
    running = await startApiNodes(layout, [0, 1, 2]);
    await waitFor(
      () => running.filter((node) => node.ledger.status().role === "leader").length === 1,
      20_000,
      "a leader",
    );
    // Transactions submitted at every node: the followers gossip theirs, the leader replicates blocks.
    const before = running.map((node) => node.ledger.status().height);
    running.forEach((node, index) => {
      for (let tx = 0; tx < 3; tx++) {
        node.ledger.submit(
          encodedTx(layout.chain, "patient.register", signerFor(`metrics-${index}-${tx}`), {}),
        );
      }
    });
    await waitFor(
      () =>
        running.every(
          (node, index) =>
            node.ledger.status().height > (before[index] as number) && node.ledger.mempool.size === 0,
        ),
      20_000,
      "the transactions to commit everywhere",
    );
    const texts = await Promise.all(running.map(scrape));
    for (const text of texts) {
      for (const direction of ["in", "out"]) {
        const labels = { channel: "direct", direction };
        expect(sampleOf(text, "medledger_network_frames_total", labels)).toBeGreaterThan(0);
        expect(sampleOf(text, "medledger_network_frame_bytes_total", labels)).toBeGreaterThan(0);
      }
      expect(
        sampleOf(text, "medledger_network_frames_total", { channel: "gossip", direction: "out" }),
      ).toBeGreaterThan(0);
      expect(
        sampleOf(text, "medledger_network_frames_total", { channel: "gossip", direction: "in" }),
      ).toBeGreaterThan(0);
      expect(sampleOf(text, "medledger_network_queue_depth", { channel: "direct" })).toBeGreaterThanOrEqual(
        0,
      );
      for (const reason of ["frame_too_large", "frame_malformed", "ledger_refused"]) {
        expect(sampleOf(text, "medledger_peer_misbehaviour_total", { reason })).toBe(0);
      }
      // One registry: the API's metrics are served with the network's.
      expect(sampleOf(text, "medledger_peers_connected")).toBe(2);
      expect(sampleOf(text, "medledger_block_height")).toBeGreaterThan(0);
      // Bounded labels: no peer id or DID anywhere in the exposition.
      expect(text).not.toMatch(/12D3KooW|did:key/);
    }
    // The counters keep growing: the leader's heartbeats alone move its direct frames out.
    const leader = running.find((node) => node.ledger.status().role === "leader") as MedledgerNode;
    const out = (text: string) =>
      sampleOf(text, "medledger_network_frames_total", { channel: "direct", direction: "out" }) ?? 0;
    const first = out(await scrape(leader));
    await scrapeUntil(leader, (text) => out(text) > first, "the leader's direct frames to grow");
    // Without the API the registry counts all the same.
    expect(
      sampleOf(await leader.metrics.metrics(), "medledger_network_frames_total", {
        channel: "direct",
        direction: "out",
      }),
    ).toBeGreaterThan(first);
  });

  it("count a member's junk: invalid gossip dropped, a refused Raft frame, a broken frame", async () => {
    net = await testNetwork(3, "metrics-junk");
    const layout = net;
    running = await startApiNodes(layout, [0, 1]);
    const target = running[0] as MedledgerNode;
    const targetPeer = target.network.peerId;
    // Node 2's key in a raw network that sends what a node never would.
    const rogue = await createNetwork({
      seed: layout.nodeSecrets[2] as Uint8Array,
      chainId: layout.chain,
      isAllowedPeer: () => true,
      listen: [layout.listen[2] as string],
      peers: layout.peersOf(2),
    });
    raw.push(rogue);
    await rogue.start();
    await waitFor(() => target.network.peers().includes(rogue.peerId), 10_000, "the rogue to connect");
    await waitFor(() => rogue.gossipPeers().includes(targetPeer), 10_000, "the target to subscribe");
    let cutOff = false;
    rogue.onPeerDisconnected((peer) => {
      if (peer === targetPeer) cutOff = true;
    });
    const before = await scrape(target);
    const invalidGossip = (text: string) =>
      sampleOf(text, "medledger_network_frames_dropped_total", { channel: "gossip", reason: "invalid" }) ?? 0;
    const misbehaviour = (text: string, reason: string) =>
      sampleOf(text, "medledger_peer_misbehaviour_total", { reason }) ?? 0;
    expect(invalidGossip(before)).toBe(0);
    expect(misbehaviour(before, "ledger_refused")).toBe(0);

    // Junk gossip: the validator rejects it (never delivered, never relayed).
    await rogue.publish(new Uint8Array([1, 2, 3]));
    await scrapeUntil(target, (text) => invalidGossip(text) >= 1, "the junk gossip to be counted as invalid");

    // A well-framed Raft frame the ledger cannot decode: refused, counted, the peer disconnected.
    rogue.send(targetPeer, new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
    await waitFor(() => cutOff, 10_000, "the target to disconnect the rogue");
    const refused = await scrapeUntil(
      target,
      (text) => misbehaviour(text, "ledger_refused") >= 1,
      "the refusal to be counted",
    );
    expect(
      sampleOf(refused, "medledger_network_frames_total", { channel: "direct", direction: "in" }),
    ).toBeGreaterThan(0);
    await rogue.stop();

    // A broken length prefix from a bare libp2p node with the same key: the network's own misbehaviour.
    const node = await createLibp2p({
      privateKey: await generateKeyPairFromSeed("Ed25519", layout.nodeSecrets[2] as Uint8Array),
      addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
    });
    bare.push(node);
    const stream = await node.dialProtocol(
      multiaddr(target.network.addresses()[0] as string),
      chainProtocols(layout.chain).direct,
    );
    stream.send(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0x01));
    await waitFor(() => node.getConnections().length === 0, 10_000, "the bare node to be cut off");
    const after = await scrapeUntil(
      target,
      (text) => misbehaviour(text, "frame_malformed") >= 1,
      "the broken frame to be counted",
    );
    expect(misbehaviour(after, "frame_malformed")).toBe(1);
    expect(misbehaviour(after, "frame_too_large")).toBe(0);
    expect(misbehaviour(after, "ledger_refused")).toBeGreaterThanOrEqual(1);
    expect(target.ledger.haltedBy).toBeNull();
  });
});
