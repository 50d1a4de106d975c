// Goal: stop() is clean: after a cluster has used every channel and stopped, nothing it opened keeps the
// process alive. Method: compare process.getActiveResourcesInfo() (only resources that hold the event
// loop open) before the cluster starts and after it stops; a leaked socket, server or ref'd timer shows.
// libp2p 3.3.11 and gossipsub 17.1.1 leave two one-shot timers of at most 1 s after stop (the address
// manager's debounce, gossipsub's last heartbeat): they delay exit by up to a second and are not leaks,
// so the comparison is made 1.2 s after stop.

import { afterEach, describe, expect, it } from "vitest";
import { numberedFrame, sleep, startCluster, stopAll, waitFor } from "./helpers.js";

afterEach(stopAll);

/** Counts of each kind of resource that keeps the event loop alive. */
function liveResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}

describe("lifecycle", () => {
  it("stop() leaves no socket, server or timer holding the process", async () => {
    const before = liveResources();
    const nodes = await startCluster(3);
    let frames = 0;
    let gossip = 0;
    for (const node of nodes) {
      node.onDirect(() => frames++);
      node.onGossip(() => gossip++);
      node.onRequest(async (_peer, payload) => payload);
    }
    await waitFor(() => nodes.every((node) => node.gossipPeers().length === 2), "gossip subscriptions");
    for (const node of nodes)
      for (const other of nodes) if (other !== node) node.send(other.peerId, numberedFrame(1, 1));
    await nodes[0]!.request(nodes[1]!.peerId, Uint8Array.of(1), { timeoutMs: 5_000 });
    await nodes[1]!.publish(Uint8Array.of(7));
    await waitFor(() => frames === 6 && gossip === 2, "traffic on every channel");
    await stopAll();
    await sleep(1_200);
    const after = liveResources();
    for (const [kind, count] of after)
      expect({ kind, count }).toEqual({ kind, count: before.get(kind) ?? 0 });
    for (const node of nodes) expect(node.peers()).toEqual([]);
  });

  it("start() twice fails with ALREADY_STARTED; a stopped network refuses work with NOT_STARTED", async () => {
    const [a, b] = await startCluster(2);
    await expect(a!.start()).rejects.toMatchObject({ code: "ALREADY_STARTED" });
    await a!.stop();
    await a!.stop();
    await expect(a!.request(b!.peerId, Uint8Array.of(1), { timeoutMs: 100 })).rejects.toMatchObject({
      code: "NOT_STARTED",
    });
    await expect(a!.publish(Uint8Array.of(1))).rejects.toMatchObject({ code: "NOT_STARTED" });
  });
});
