// One chaos run: lays out a cluster (namespaces, or process-level faults where they are not allowed),
// registers the workload's actors, runs the recording workload while each nemesis takes its turn,
// heals, waits until the nodes agree, stops them, checks their chains against the history and writes
// a JSON report. The caller prints the last line: `chaos: N acked, L lost, D divergent`.
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type CheckResult, check, readChains } from "./checker.js";
import { ChaosCluster, type FaultMode } from "./cluster.js";
import { closeAgents, httpJson } from "./http.js";
import { allNemeses, healAll } from "./nemeses.js";
import { type Op, prng, sleep, Workload } from "./workload.js";

export interface ChaosOptions {
  durationS: number;
  seed: number;
  nodes?: number;
  /** Target operations per second of the workload. */
  rate?: number;
  /** Most operations in flight at once (default: the rate times the request timeout, at least 12). */
  workers?: number;
  /** Only these nemeses (by name), in this order. */
  nemeses?: string[];
  forceProcess?: boolean;
  /**
   * Size of each node's tmpfs data directory (namespace mode), for the disk-full nemesis; default:
   * room for the whole run (disk_bytes_per_op per operation, at least disk_mb_min).
   */
  diskMb?: number;
  reportDir?: string;
  log?: (line: string) => void;
}

export interface NemesisReport {
  name: string;
  start_s: number;
  end_s: number;
  /** Share of the window's whole seconds in which at least one operation was acknowledged. */
  availability: number;
  acked: number;
  /** Operations acknowledged in each whole 5-second window of the nemesis's window, in order. */
  acked_per_5s: number[];
  events: string[];
}

export interface ChaosReport extends CheckResult {
  seed: number;
  duration_s: number;
  mode: FaultMode;
  mode_reason: string;
  nodes: number;
  rate: number;
  operations: { ok: number; fail: number; info: number };
  converged: boolean;
  /** Each node's GET /status after the convergence wait (null: no answer). */
  final_statuses: Array<Record<string, unknown> | null>;
  /** Whether each node had a tmpfs disk of its own (the disk-full nemesis needs it). */
  own_disks: boolean;
  /** Each node's tmpfs size (null: no disks of their own). */
  disk_mb: number | null;
  /** The least free space each node's disk had outside the disk-full nemesis (MiB). */
  disk_low_free_mb: number[] | null;
  /** Node processes that exited without being told to (with the end of their stderr). */
  crashes: string[];
  /** What went through the delay proxy (null: the nodes talked directly). */
  delay_proxy: { connections: number; bytes: number; delayedChunks: number; maxQueuedBytes: number } | null;
  /** The byzantine member's node (null: none). */
  byzantine: string | null;
  nemeses: NemesisReport[];
  report_path: string;
  /** The directory of the node processes' logs. */
  logs_path: string;
}

const here = dirname(fileURLToPath(import.meta.url));
const warmup_ms = 3_000;
/**
 * Disk to give each node per operation of the run: measured about 1.2 KB per operation at 300
 * operations/s (small blocks, the WAL), so four times that. A disk too small for the run fills up
 * outside the disk-full nemesis and stalls every node for good (it did: seed 2026, 30 minutes).
 */
const disk_bytes_per_op = 4096;
const disk_mb_min = 256;
/** Free space under which a node's disk counts as full outside the disk-full nemesis. */
const disk_low_mb = 16;
const converge_timeout_ms = 60_000;

/** Nemeses that change the cluster itself, so a run takes them only when named. */
const opt_in_nemeses = new Set(["byzantine"]);

/**
 * The nemeses a run takes when none are named: all but byzantine, which adds a fourth voter (the
 * byzantine member) to the genesis for the whole run; `--nemeses byzantine` runs it.
 */
export function defaultNemeses(): string[] {
  return allNemeses({ leaderKillPeriodMs: [0, 0] })
    .map((nemesis) => nemesis.name)
    .filter((name) => !opt_in_nemeses.has(name));
}

export function lastLine(report: ChaosReport): string {
  return `chaos: ${report.acked} acked, ${report.lost_acked} lost, ${report.divergent_heights} divergent`;
}

/** Runs the chaos suite for `options.durationS` seconds and returns its report (also written as JSON). */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => undefined);
  const random = prng(options.seed ^ 0x5eed);
  const size = options.nodes ?? 3;
  const rate = options.rate ?? 40;
  const names = options.nemeses ?? defaultNemeses();
  const cluster = await ChaosCluster.create(size, `s${options.seed}`, {
    ...(options.forceProcess === undefined ? {} : { forceProcess: options.forceProcess }),
    byzantine: names.includes("byzantine"),
    delayProxy: names.includes("delay"),
    seed: options.seed,
  });
  const reportDir = options.reportDir ?? join(here, "reports");
  const logDir = join(
    reportDir,
    `chaos-${options.seed}-${new Date().toISOString().replace(/[:.]/g, "-")}.logs`,
  );
  mkdirSync(logDir, { recursive: true });
  cluster.logDir = logDir;
  const onExit = (): void => {
    cluster.net?.destroy();
  };
  process.once("exit", onExit);
  // Interrupted (Ctrl-C): stop the nodes, remove the namespaces and unmount the disks before leaving.
  const onSignal = (): void => {
    log("chaos: interrupted: tearing the cluster down");
    void cluster.destroy().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    log(
      `chaos: ${size} nodes, mode ${cluster.mode}${cluster.modeReason === "" ? "" : ` (${cluster.modeReason})`}`,
    );
    const diskMb =
      options.diskMb ??
      Math.max(disk_mb_min, Math.ceil((options.durationS * rate * disk_bytes_per_op) / 1_048_576));
    const ownDisks = cluster.mode === "namespaces" && cluster.mountDataDirs(diskMb);
    // The least free space each node had outside the disk-full nemesis.
    const diskLowMb = cluster.nodeIds.map(() => Number.POSITIVE_INFINITY);
    let current = "";
    const diskWatch = setInterval(() => {
      if (!ownDisks || current === "disk-full") return;
      cluster.nodeIds.forEach((_, index) => {
        diskLowMb[index] = Math.min(diskLowMb[index] as number, cluster.diskFreeMb(index));
      });
    }, 1_000);
    diskWatch.unref();
    await cluster.startAll();
    if (cluster.byzantine !== null) await cluster.startByzantine(options.seed);
    const workload = new Workload(cluster, { seed: options.seed, patients: 8 });
    await workload.setup(60_000);
    const began = Date.now();
    // In flight at most: every operation of the last request timeout at the set rate.
    const running = workload.run({ workers: options.workers ?? Math.max(12, Math.ceil(rate * 8)), rate });
    await sleep(warmup_ms);
    const picked = allNemeses({ leaderKillPeriodMs: [5_000, 15_000] }).filter((nemesis) =>
      names.includes(nemesis.name),
    );
    const window_ms = Math.max(5_000, (options.durationS * 1000 - warmup_ms) / Math.max(1, picked.length));
    const reports: NemesisReport[] = [];
    for (const nemesis of picked) {
      const events: string[] = [];
      const start = Date.now();
      const until = start + window_ms * 0.75;
      current = nemesis.name;
      log(`chaos: nemesis ${nemesis.name} for ${Math.round((until - start) / 1000)} s`);
      appendFileSync(join(logDir, "nemeses.log"), `${new Date().toISOString()} ${nemesis.name}: start\n`);
      await nemesis.run(
        {
          cluster,
          random,
          event: (what) => {
            events.push(`${((Date.now() - began) / 1000).toFixed(1)}s ${what}`);
            appendFileSync(
              join(logDir, "nemeses.log"),
              `${new Date().toISOString()} ${nemesis.name}: ${what}\n`,
            );
          },
        },
        until,
      );
      const end = Date.now();
      reports.push({
        name: nemesis.name,
        start_s: (start - began) / 1000,
        end_s: (end - began) / 1000,
        availability: 0,
        acked: 0,
        acked_per_5s: [],
        events,
      });
      current = "";
      await sleep(Math.max(0, start + window_ms - Date.now()));
    }
    workload.stop();
    await running;
    await healAll(cluster);
    const converged = await converge(cluster);
    const finalStatuses = await Promise.all(cluster.nodeIds.map((_, index) => statusOf(cluster, index)));
    await cluster.stopAll();
    closeAgents();
    for (const report of reports) fillAvailability(report, workload.history, began);
    const chains = await readChains(cluster.dirs, cluster.genesis);
    clearInterval(diskWatch);
    const result = check(workload.history, chains);
    diskLowMb.forEach((free, index) => {
      if (free < disk_low_mb) {
        result.problems.push(
          `node ${index}'s disk (${diskMb} MiB) had ${free} MiB free outside the disk-full nemesis: too small for this run`,
        );
      }
    });
    mkdirSync(reportDir, { recursive: true });
    const reportPath = join(
      reportDir,
      `chaos-${options.seed}-${new Date(began).toISOString().replace(/[:.]/g, "-")}.json`,
    );
    const report: ChaosReport = {
      seed: options.seed,
      duration_s: Math.round((Date.now() - began) / 1000),
      mode: cluster.mode,
      mode_reason: cluster.modeReason,
      nodes: size,
      rate,
      ...result,
      operations: {
        ok: workload.history.filter((op) => op.outcome === "ok").length,
        fail: workload.history.filter((op) => op.outcome === "fail").length,
        info: workload.history.filter((op) => op.outcome === "info").length,
      },
      converged,
      final_statuses: finalStatuses,
      own_disks: ownDisks,
      disk_mb: ownDisks ? diskMb : null,
      disk_low_free_mb: ownDisks ? diskLowMb : null,
      crashes: cluster.crashes,
      delay_proxy: cluster.proxy === null ? null : { ...cluster.proxy.stats },
      byzantine: cluster.byzantine?.did ?? null,
      nemeses: reports,
      report_path: reportPath,
      logs_path: logDir,
    };
    writeFileSync(reportPath, `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(reportPath.replace(/\.json$/, ".history.json"), JSON.stringify(workload.history));
    return report;
  } finally {
    closeAgents();
    await cluster.destroy();
    process.off("exit", onExit);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** Share of whole seconds of the report's window in which some operation was acknowledged. */
function fillAvailability(report: NemesisReport, history: readonly Op[], began: number): void {
  const from = began + report.start_s * 1000;
  const to = began + report.end_s * 1000;
  const seconds = new Set<number>();
  let acked = 0;
  for (const op of history) {
    if (op.outcome !== "ok" || op.completedAt < from || op.completedAt >= to) continue;
    acked += 1;
    seconds.add(Math.floor((op.completedAt - from) / 1000));
  }
  const total = Math.max(1, Math.floor((to - from) / 1000));
  report.acked_per_5s = ackedPerWindow(history, from, to, 5_000);
  report.acked = acked;
  report.availability = Math.round((Math.min(seconds.size, total) / total) * 1000) / 1000;
}

/** Operations acknowledged in each whole `windowMs` window from `from` to `to`. */
export function ackedPerWindow(history: readonly Op[], from: number, to: number, windowMs: number): number[] {
  const windows = Array.from({ length: Math.floor((to - from) / windowMs) }, () => 0);
  for (const op of history) {
    if (op.outcome !== "ok" || op.completedAt < from) continue;
    const slot = Math.floor((op.completedAt - from) / windowMs);
    if (slot < windows.length) windows[slot] = (windows[slot] as number) + 1;
  }
  return windows;
}

export async function statusOf(
  cluster: ChaosCluster,
  index: number,
): Promise<Record<string, unknown> | null> {
  try {
    const answer = await httpJson({
      base: cluster.apiUrl(index),
      method: "GET",
      path: "/status",
      timeoutMs: 2_000,
      localAddress: cluster.clientAddress,
    });
    const { role, term, height, commitIndex, appliedIndex, mempoolSize, halted, leader, backfilling } =
      answer.body;
    return { role, term, height, commitIndex, appliedIndex, mempoolSize, halted, leader, backfilling };
  } catch {
    return null;
  }
}

/**
 * Waits until every node reports one height, an empty mempool and a whole history (no back-fill under
 * way); false after the timeout.
 */
export async function converge(cluster: ChaosCluster, timeoutMs = converge_timeout_ms): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const statuses = await Promise.all(
      cluster.nodeIds.map(async (_, index) => {
        try {
          const answer = await httpJson({
            base: cluster.apiUrl(index),
            method: "GET",
            path: "/status",
            timeoutMs: 2_000,
            localAddress: cluster.clientAddress,
          });
          return answer.body as {
            height?: number;
            mempoolSize?: number;
            backfilling?: boolean;
            appliedIndex?: number;
            commitIndex?: number;
          };
        } catch {
          return null;
        }
      }),
    );
    const heights = new Set(statuses.map((status) => status?.height ?? -1));
    const settled = statuses.every((status) => status?.mempoolSize === 0 && status.backfilling === false);
    if (!heights.has(-1) && heights.size === 1 && settled) return true;
    await sleep(500);
  }
  return false;
}
