// One medledger node for the chaos suite, in its own process (and, when the harness has namespaces, in
// its own network namespace). Plain JavaScript over the built packages (Node 20 cannot run TypeScript).
// Usage: node chaos-node.mjs '<json config>'. It serves the HTTP API on config.apiHost:config.apiPort
// (with a rate limit high enough for the workload), prints one JSON line {"event":"ready",...}, then
// reads JSON lines on stdin: {"op":"faults","dropFrom":[peer ids],"dropTo":[peer ids],"lossPercent":n}
// sets the process-level faults (the fallback where namespaces are not allowed); {"op":"counters","seq":n}
// answers {"event":"counters","seq":n,"counts":{...},"halted":...}: how often the node logged each
// message (by level, message and the last 8 characters of the peer or `from` it names), which is how the harness
// sees that a byzantine peer was refused, disconnected or banned. Warnings and errors also go to stderr
// as JSON lines. With config.logFile, every line at info and above goes to that file too, with a status
// line (role, term, height, leader, mempool, peers) every status_log_ms: the record a long run is read by.
import { openSync, writeSync } from "node:fs";
import { createInterface } from "node:readline";
import { startApi, startNode } from "@medledger/node";
import { fromHex } from "@medledger/protocol";

const config = JSON.parse(process.argv[2] ?? "{}");
const status_log_ms = 5_000;
const logFd = typeof config.logFile === "string" ? openSync(config.logFile, "a") : null;
const jsonLine = (line) =>
  `${JSON.stringify(line, (_key, value) => (value instanceof Error ? value.message : value))}\n`;

/** Log lines counted by "level msg|peer-suffix" (no peer: "level msg|"). */
const counts = new Map();
function countingLogger(bindings) {
  const log = (level) => (msg, fields) => {
    const named = fields?.peer ?? fields?.from;
    const peer = typeof named === "string" ? named.slice(-8) : "";
    const key = `${level} ${msg}|${peer}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    if (level === "debug" || (logFd === null && level === "info")) return;
    const text = jsonLine({ time: new Date().toISOString(), level, msg, ...bindings, ...fields });
    if (logFd !== null) writeSync(logFd, text);
    if (level === "warn" || level === "error") process.stderr.write(text);
  };
  return {
    child: (more) => countingLogger({ ...bindings, ...more }),
    debug: log("debug"),
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
  };
}
const faults = { dropFrom: new Set(), dropTo: new Set(), lossPercent: 0 };
const lost = () => faults.lossPercent > 0 && Math.random() * 100 < faults.lossPercent;

const node = await startNode({
  dataDir: config.dataDir,
  genesis: config.genesis,
  nodeSecretKey: fromHex(config.secret),
  listen: config.listen,
  peers: config.peers,
  tickMs: config.tickMs ?? 50,
  logger: countingLogger({}),
  faults: {
    dropOutbound: (peer) => faults.dropTo.has(String(peer)) || lost(),
    dropInbound: (peer) => faults.dropFrom.has(String(peer)) || lost(),
  },
});
const api = await startApi(
  { id: node.id, ledger: node.ledger, network: node.network, db: node.db },
  {
    host: config.apiHost,
    port: config.apiPort,
    adminToken: config.adminToken,
    vault: null,
    rateLimit: { max: 1_000_000, windowMs: 60_000 },
  },
);

if (logFd !== null) {
  setInterval(() => {
    const { voters, learners, node: _self, ...status } = node.ledger.status();
    const line = { time: new Date().toISOString(), level: "info", msg: "status", ...status };
    line.leader = String(status.leader).slice(-8);
    line.peers = node.network.peers().map((peer) => String(peer).slice(-8));
    line.installing = node.ledger.installingSnapshot;
    writeSync(logFd, jsonLine(line));
  }, status_log_ms).unref();
}

createInterface({ input: process.stdin }).on("line", (line) => {
  let request;
  try {
    request = JSON.parse(line);
  } catch {
    return;
  }
  if (request.op === "faults") {
    faults.dropFrom = new Set(request.dropFrom ?? []);
    faults.dropTo = new Set(request.dropTo ?? []);
    faults.lossPercent = request.lossPercent ?? 0;
  } else if (request.op === "counters") {
    const halted = node.ledger.haltedBy;
    process.stdout.write(
      `${JSON.stringify({
        event: "counters",
        seq: request.seq,
        counts: Object.fromEntries(counts),
        halted: halted === null ? null : halted.message,
        status: node.ledger.status(),
      })}\n`,
    );
  }
});

async function shutdown() {
  await api.close().catch(() => undefined);
  await node.stop();
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

process.stdout.write(
  `${JSON.stringify({ event: "ready", id: node.id, addresses: node.addresses(), api: api.url })}\n`,
);
