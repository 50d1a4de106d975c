// Goal: GET /ready answers 503 (with its body, not an error) while a node knows no leader, and 200 once
// one is elected. Method: the first node of a 3-member chain alone (no quorum), then its peers join.
import { afterEach, describe, expect, it } from "vitest";
import { freePorts } from "../src/demo-ports.js";
import { type MedledgerNode, startNode } from "../src/node.js";
import { type TestNetwork, testNetwork, waitFor } from "./node-helpers.js";

let running: MedledgerNode[] = [];
let net: TestNetwork | null = null;

afterEach(async () => {
  await Promise.all(running.map((node) => node.stop()));
  running = [];
  net?.cleanup();
  net = null;
});

describe("GET /ready", () => {
  it("answers 503 without a leader and 200 with one", async () => {
    net = await testNetwork(3, "ready");
    const layout = net;
    const apiPorts = await freePorts(3);
    const start = (index: number) =>
      startNode({
        dataDir: layout.dirs[index] as string,
        genesis: layout.genesis,
        nodeSecretKey: layout.nodeSecrets[index] as Uint8Array,
        listen: [layout.listen[index] as string],
        peers: layout.peersOf(index),
        tickMs: 50,
        api: { host: "127.0.0.1", port: apiPorts[index] as number },
      });
    const first = await start(0);
    running.push(first);
    const alone = await fetch(`${first.apiUrl}/ready`);
    expect(alone.status).toBe(503);
    expect(await alone.json()).toMatchObject({ ready: false, leader: null });
    running.push(...(await Promise.all([start(1), start(2)])));
    await waitFor(() => first.ledger.status().leader !== "", 20_000, "a leader");
    const ready = await fetch(`${first.apiUrl}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true });
  });
});
