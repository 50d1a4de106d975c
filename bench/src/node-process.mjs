// One medledger node in its own process for the system benchmark: startNode over the BUILT packages
// (as test/fixtures/node-process.mjs), plus the HTTP API started with startApi so that the benchmark can
// lift the per-address rate limit (startNode's `api` option does not expose it; see the report).
// Usage: node node-process.mjs '<json config>'. Prints one JSON line {"event":"ready","apiUrl":...}, then
// answers JSON-line requests on stdin ({"seq":n,"op":"status"}) with {"seq":n,...}. SIGTERM stops cleanly
// (so that --cpu-prof writes its profile and SQLite checkpoints its WAL).
import { createInterface } from "node:readline";
import { startApi, startNode } from "@medledger/node";
import { fromHex } from "@medledger/protocol";

const config = JSON.parse(process.argv[2] ?? "{}");
const node = await startNode({
  dataDir: config.dataDir,
  genesis: config.genesis,
  nodeSecretKey: fromHex(config.secret),
  listen: config.listen,
  peers: config.peers,
  ...(config.tickMs === undefined ? {} : { tickMs: config.tickMs }),
});
const api = await startApi(
  { id: node.id, ledger: node.ledger, network: node.network, db: node.db },
  {
    host: "127.0.0.1",
    port: config.apiPort ?? 0,
    adminToken: config.adminToken,
    vault: null,
    rateLimit: { max: 1_000_000_000, windowMs: 60_000 },
  },
);

function reply(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

createInterface({ input: process.stdin }).on("line", (line) => {
  let request;
  try {
    request = JSON.parse(line);
  } catch {
    return;
  }
  if (request.op === "status") reply({ seq: request.seq, status: node.ledger.status() });
  else reply({ seq: request.seq, error: "UNKNOWN_OP" });
});

let stopping = false;
async function shutdown() {
  if (stopping) return;
  stopping = true;
  await api.close().catch(() => undefined);
  await node.stop();
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

reply({ event: "ready", id: node.id, apiUrl: api.url });
