/**
 * Prometheus metrics of one node (prom-client, one Registry per node so several nodes share a process):
 * consensus role and term, commit and apply lag, block height and interval, mempool size, committed
 * transactions, submit-to-commit latency, API request latency by route and status, and peers. They go
 * into the node's registry when it has one (the network's metrics are there too), else into their own.
 */
import { toHex } from "@medledger/protocol";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { AppliedBlock, LedgerNode } from "../ledger/ledger-node.js";
import { api_latency_tracked_txs_max } from "../limits.js";

const ROLES = ["follower", "preCandidate", "candidate", "leader"] as const;

/** The node's metrics and the hooks that feed them. */
export interface ApiMetrics {
  readonly registry: Registry;
  /** Remembers when transaction `idHex` was submitted here (for the submit-to-commit latency). */
  trackSubmit(idHex: string): void;
  /** Observes one answered API request. */
  observeRequest(route: string, method: string, status: number, seconds: number): void;
  /** Unsubscribes from the ledger. */
  close(): void;
}

/** Builds the metrics of `ledger` (and its peers through `peers`) in `registry` (default: a new one). */
export function createApiMetrics(parts: {
  ledger: LedgerNode;
  peers: () => number;
  now: () => number;
  registry?: Registry;
}): ApiMetrics {
  const { ledger, now } = parts;
  const registry = parts.registry ?? new Registry();
  const status = () => ledger.status();
  new Gauge({
    name: "medledger_consensus_role",
    help: "1 for this node's current Raft role",
    labelNames: ["role"],
    registers: [registry],
    collect() {
      const role = status().role;
      for (const name of ROLES) this.set({ role: name }, role === name ? 1 : 0);
    },
  });
  gauge(registry, "medledger_consensus_term", "the current Raft term", () => status().term);
  gauge(registry, "medledger_consensus_commit_index", "the Raft commit index", () => status().commitIndex);
  gauge(
    registry,
    "medledger_consensus_apply_lag_entries",
    "Raft entries committed but not yet applied",
    () => {
      const current = status();
      return Math.max(0, current.commitIndex - current.appliedIndex);
    },
  );
  gauge(registry, "medledger_block_height", "height of the last applied block", () => status().height);
  gauge(
    registry,
    "medledger_mempool_size",
    "transactions waiting in the mempool",
    () => status().mempoolSize,
  );
  gauge(registry, "medledger_peers_connected", "member nodes connected", parts.peers);
  gauge(
    registry,
    "medledger_backfill_running",
    "1 while fetching blocks an installed snapshot skipped",
    () => (ledger.backfillStats.running ? 1 : 0),
  );
  gauge(
    registry,
    "medledger_backfill_blocks_stored",
    "blocks back-filled behind installed snapshots since the node started",
    () => ledger.backfillStats.stored,
  );
  const committed = new Counter({
    name: "medledger_committed_txs_total",
    help: "transactions committed (rate() gives tx/s)",
    registers: [registry],
  });
  const interval = new Histogram({
    name: "medledger_block_interval_seconds",
    help: "block time minus the previous block's time",
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers: [registry],
  });
  const latency = new Histogram({
    name: "medledger_submit_to_commit_seconds",
    help: "from a transaction's submission through this API to its commit here",
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const requests = new Histogram({
    name: "medledger_api_request_seconds",
    help: "API request latency by route and status",
    labelNames: ["route", "method", "status"],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 15],
    registers: [registry],
  });
  const submitted = new Map<string, number>();
  let lastBlockTime: number | null = null;
  const unsubscribe = ledger.onBlock((applied: AppliedBlock) => {
    committed.inc(applied.ids.length);
    const time = applied.block.header.time;
    if (lastBlockTime !== null) interval.observe(Math.max(0, time - lastBlockTime) / 1000);
    lastBlockTime = time;
    const at = now();
    for (const id of applied.ids) {
      const key = toHex(id);
      const start = submitted.get(key);
      if (start === undefined) continue;
      submitted.delete(key);
      latency.observe(Math.max(0, at - start) / 1000);
    }
  });
  return {
    registry,
    trackSubmit(idHex) {
      if (submitted.has(idHex)) return;
      if (submitted.size >= api_latency_tracked_txs_max) {
        const oldest = submitted.keys().next();
        if (oldest.done !== true) submitted.delete(oldest.value);
      }
      submitted.set(idHex, now());
    },
    observeRequest(route, method, statusCode, seconds) {
      requests.observe({ route, method, status: String(statusCode) }, seconds);
    },
    close: () => {
      unsubscribe();
    },
  };
}

function gauge(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}
