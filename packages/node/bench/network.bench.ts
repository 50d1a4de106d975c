// Goal: measure the network's throughput between two real nodes on 127.0.0.1 (one process, real TCP,
// Noise and Yamux). Method: vitest bench; each iteration moves a fixed batch and waits for the last one.

import { afterAll, beforeAll, bench, describe } from "vitest";
import type { Network } from "../src/index.js";
import { numberedFrame, startCluster, stopAll, waitFor } from "../test/helpers.js";

const frames_per_iteration = 10_000;
const gossip_per_iteration = 500;
const frame_padding_bytes = 200;
const gossip_bytes = 4096;

let nodes: Network[] = [];
let frames_received = 0;
let gossip_received = 0;
let gossip_sequence = 0;
let frames_wanted = 0;
let gossip_wanted = 0;
let frames_done: (() => void) | undefined;
let gossip_done: (() => void) | undefined;

/** Resolves as soon as the handler has counted `target` (no polling, so no timer granularity). */
function arrival(setTarget: (target: number, done: () => void) => void, target: number): Promise<void> {
  return new Promise((resolve) => setTarget(target, resolve));
}

beforeAll(async () => {
  nodes = await startCluster(2);
  nodes[1]!.onDirect(() => {
    frames_received++;
    if (frames_received === frames_wanted) frames_done?.();
  });
  nodes[1]!.onGossip(() => {
    gossip_received++;
    if (gossip_received === gossip_wanted) gossip_done?.();
  });
  await waitFor(() => nodes.every((node) => node.gossipPeers().length === 1), "gossip subscriptions");
});

afterAll(stopAll);

describe("network", () => {
  bench(
    `direct: ${frames_per_iteration} frames of ${frame_padding_bytes + 8} bytes, one stream`,
    async () => {
      const done = arrival((target, resolve) => {
        frames_wanted = target;
        frames_done = resolve;
      }, frames_received + frames_per_iteration);
      const [a, b] = nodes;
      for (let sequence = 0; sequence < frames_per_iteration; sequence++) {
        a!.send(b!.peerId, numberedFrame(1, sequence, frame_padding_bytes));
      }
      await done;
    },
    { iterations: 10, warmupIterations: 1 },
  );

  bench(
    `gossip: ${gossip_per_iteration} messages of ${gossip_bytes} bytes, StrictNoSign`,
    async () => {
      const done = arrival((target, resolve) => {
        gossip_wanted = target;
        gossip_done = resolve;
      }, gossip_received + gossip_per_iteration);
      const payload = new Uint8Array(gossip_bytes);
      const view = new DataView(payload.buffer);
      const sends: Promise<void>[] = [];
      for (let index = 0; index < gossip_per_iteration; index++) {
        view.setUint32(0, gossip_sequence++);
        sends.push(nodes[0]!.publish(payload.slice()));
      }
      await Promise.all(sends);
      await done;
    },
    { iterations: 5, warmupIterations: 1 },
  );
});
