// Writes a run's results: <date>-<kind>.json (the whole result, small), summary.json (headline figures
// under stable keys), report.md and SVG charts. A full run writes to bench/results/, a quick run to
// bench/results/quick/ (so summary.json always holds the latest full run).
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { lineChart } from "./svg.mjs";

const targets = {
  committed_tx_per_s: 3_000,
  ceiling_ratio: 0.64,
  commit_p99_ms_at_1000: 100,
  access_check_p99_ms: 2,
  access_check_req_per_s: 8_000,
  sync_1m_s: 60,
  disk_bytes_per_tx: 600,
};

function median(values) {
  const sorted = values.filter((v) => v !== null && v !== undefined).sort((a, b) => a - b);
  return sorted.length === 0 ? null : sorted[Math.floor(sorted.length / 2)];
}

export function summarize(result) {
  const phases = result.three_nodes?.phases ?? [];
  const saturation = phases.find((p) => p.label === "saturation");
  const at1000 = phases.find((p) => p.offered_tx_per_s === 1_000);
  const cannon = result.three_nodes?.autocannon_access_check;
  const catch_up = result.three_nodes?.catch_up ?? [];
  const largest = catch_up.reduce((a, b) => (a === null || b.chain_txs > a.chain_txs ? b : a), null);
  const million = catch_up.find((c) => c.chain_txs >= 1_000_000 && c.reached);
  const disk = median(
    (result.three_nodes?.disk ?? []).filter((d) => !d.joined_later).map((d) => d.bytes_per_tx),
  );
  const summary = {
    kind: result.kind,
    date: result.date,
    machine: result.machine,
    committed_tx_per_s: saturation?.committed_tx_per_s ?? null,
    ceiling_tx_per_s: result.ceiling?.ceiling_tx_per_s ?? null,
    ceiling_ratio:
      saturation && result.ceiling
        ? Math.round((1000 * saturation.committed_tx_per_s) / result.ceiling.ceiling_tx_per_s) / 1000
        : null,
    commit_p50_ms_at_1000: at1000?.commit_latency_ms.p50 ?? null,
    commit_p99_ms_at_1000: at1000?.commit_latency_ms.p99 ?? null,
    access_check_p99_ms: cannon?.latency_ms.p99 ?? null,
    access_check_req_per_s: cannon?.req_per_s ?? null,
    sync_1m_s: million?.catch_up_s ?? null,
    disk_bytes_per_tx: disk,
    verify_per_s_one_core: result.ceiling?.ed25519_verify_per_s_one_core ?? null,
    fsync_per_s: result.ceiling?.fsync_per_s ?? null,
  };
  if (summary.sync_1m_s === null) {
    summary.sync_1m_s_reason = largest
      ? `no 1M-transaction chain in this run; largest measured: ${largest.chain_txs} txs caught up in ${largest.catch_up_s} s`
      : "no catch-up measured";
    summary.sync_largest = largest ? { chain_txs: largest.chain_txs, seconds: largest.catch_up_s } : null;
  }
  if (at1000 !== undefined && at1000.commit_latency_ms.p50 === null) {
    const reason = at1000.stalled
      ? `the chain stalled at 1,000 tx/s offered: no transaction sent in the measured window committed (mempools after the drain: ${at1000.mempools_after_drain.join(", ")}); see the report`
      : "no transaction sent in the measured window committed";
    summary.commit_p50_ms_at_1000_reason = reason;
    summary.commit_p99_ms_at_1000_reason = reason;
  }
  for (const key of [
    "committed_tx_per_s",
    "commit_p50_ms_at_1000",
    "commit_p99_ms_at_1000",
    "access_check_p99_ms",
  ]) {
    if (summary[key] === null && summary[`${key}_reason`] === undefined)
      summary[`${key}_reason`] = "not measured in this run";
  }
  summary.targets = targets;
  return summary;
}

const fmt = (v, digits = 0) =>
  v === null || v === undefined
    ? "n/a"
    : typeof v === "number"
      ? v.toLocaleString("en-US", { maximumFractionDigits: digits })
      : String(v);

function phaseTable(phases) {
  const rows = phases.map((p) => {
    const l = p.commit_latency_ms;
    return `| ${p.label} | ${p.nodes} | ${fmt(p.offered_tx_per_s)} | ${fmt(p.sent_per_s)} | ${fmt(p.committed_tx_per_s)} | ${fmt(l.p50, 1)} | ${fmt(l.p90, 1)} | ${fmt(l.p99, 1)} | ${fmt(l.max, 1)} | ${fmt(p.mean_txs_per_block)} | ${fmt(p.not_committed)} | ${fmt(p.drain_s, 1)} | ${p.stalled ? `**yes** (mempools ${p.mempools_after_drain.map((m) => (m === null ? "no answer" : m)).join(", ")})` : "no"} |`;
  });
  return [
    "| phase | nodes | offered tx/s | sent tx/s | committed tx/s (window) | p50 ms | p90 ms | p99 ms | max ms | txs/block | sent, not committed | drain s | stalled |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}

function answersTable(phases) {
  return phases
    .map(
      (p) =>
        `- ${p.label}: ${Object.entries(p.answers)
          .map(([k, n]) => `\`${k}\` x${n}`)
          .join(", ")}`,
    )
    .join("\n");
}

function report(result, summary) {
  const m = result.machine;
  const c = result.ceiling;
  const t = result.three_nodes ?? {};
  const lines = [];
  lines.push(`# medledger system benchmark (${result.kind} run)`);
  lines.push("");
  lines.push(
    `${result.date}, ${m.nproc} cores (${m.cpu_model}), Node ${m.node}, ${m.platform}; load average at start ${m.loadavg_at_start.join(" / ")}. ` +
      "The machine is **shared and noisy**: other engineers run test suites on it, and the load generators, " +
      "the nodes, autocannon and the driver all share its cores. Compare ratios within one run rather than absolute figures across runs. " +
      `Run time ${result.duration_s} s. Reproduce: \`corepack pnpm bench${result.kind === "quick" ? " --quick" : ""}\`.`,
  );
  lines.push("");
  lines.push("## Headline (targets are reported, not asserted)");
  lines.push("");
  lines.push("| figure | measured | target |");
  lines.push("|---|---|---|");
  lines.push(`| committed tx/s, 3 nodes, flat out | ${fmt(summary.committed_tx_per_s)} | >= 3,000 |`);
  lines.push(`| ceiling tx/s (verify/s x cores / nodes) | ${fmt(summary.ceiling_tx_per_s)} | |`);
  lines.push(`| achieved / ceiling | ${fmt(summary.ceiling_ratio, 3)} | >= 0.64 |`);
  lines.push(
    `| submit-to-commit p50 / p99 at 1,000 tx/s | ${fmt(summary.commit_p50_ms_at_1000, 1)} / ${fmt(summary.commit_p99_ms_at_1000, 1)} ms | p99 <= 100 ms |`,
  );
  lines.push(
    `| access check (autocannon, 10 connections; latency resolution 1 ms) | ${fmt(summary.access_check_req_per_s)} req/s, p99 ${fmt(summary.access_check_p99_ms, 1)} ms | >= 8,000 req/s, p99 <= 2 ms |`,
  );
  lines.push(
    `| new node sync of 1M txs | ${summary.sync_1m_s === null ? `n/a: ${summary.sync_1m_s_reason}` : `${summary.sync_1m_s} s`} | <= 60 s |`,
  );
  lines.push(`| bytes on disk per tx | ${fmt(summary.disk_bytes_per_tx)} | <= 600 |`);
  lines.push("");
  lines.push("## Method");
  lines.push("");
  lines.push(
    [
      `- Workload: ${result.workload}. Set-up first (through @medledger/client): ${result.plan.providers} providers registered by member 0, ${result.plan.patients} patients, each granting member 0 labs/medications/allergies for TREAT; so most access.logs are permitted, a quarter (problems) denied: both kinds are committed.`,
      "- Cluster: real node processes (`bench/src/node-process.mjs`: `startNode` over the built packages, libp2p over TCP on 127.0.0.1, SQLite in a temporary directory, tick 50 ms), the HTTP API started with `startApi` with the per-address rate limit lifted (`startNode`'s `api` option has no way to do that).",
      `- Load: ${result.plan.generators} generator processes (\`bench/src/loadgen.mjs\`), each pre-signing its share before the clock starts. Open loop: each transaction is timed from its scheduled time (latency counts from the schedule, so queueing in the generator is included) and sent without wait${(result.plan.batch ?? 1) > 1 ? `, what is due every 5 ms in one \`POST /txs/batch\` (at most ${result.plan.batch})` : ", one `POST /txs` each"}; the commit time is the arrival of the block's event on \`GET /events\` of the node it was sent to; ids are mapped to blocks afterwards (\`GET /blocks/{height}\`). Closed loop (saturation): ${result.plan.closed_concurrency} workers per generator, each sending ${(result.plan.batch ?? 1) > 1 ? `${result.plan.batch} transactions in one \`POST /txs/batch?wait=true\`` : "one `POST /txs?wait=true`"} and the next on the answer.`,
      `- Windows: each phase runs ${result.plan.open_duration_ms / 1000} s open / ${result.plan.saturation_duration_ms / 1000} s closed; the first ${result.plan.warmup_ms / 1000} s are warm-up. Committed tx/s counts transactions in blocks whose event arrived inside the window; latency percentiles are over transactions sent inside it.`,
      `- Ceiling: ed25519 verify with node:crypto and a cached KeyObject on one core for ${result.plan.ceiling_ms / 1000} s, x cores / nodes; fsync of 128-byte appends in the temporary directory the nodes use.`,
      "- Reads: sequential GETs (one connection) of patient 0's audit trail (`limit=50`, admin token) and of `GET /access/check` at each chain length; then autocannon (10 connections, its own process) on the access check with the cluster idle.",
      "- Catch-up: a new member with a new node is proposed by member 0 and approved by the other founders (`member.propose`, `member.vote`); once committed, its node process starts with an empty data directory and is timed from spawn until its height reaches the leader's height at that moment. Real processes. (The new node then stays a voter: it is added after the measured 3-node phases.)",
      "- Disk: after a clean stop, `PRAGMA wal_checkpoint(TRUNCATE)`, the size of chain.db and its -wal/-shm divided by the rows of its `txs` table (set-up transactions included); median over the founding nodes.",
    ].join("\n"),
  );
  lines.push("");
  lines.push("## Ceiling");
  lines.push("");
  lines.push(
    `ed25519 verify: ${fmt(c.ed25519_verify_per_s_one_core)}/s on one core; x ${c.cores} cores / ${c.nodes} nodes = **${fmt(c.ceiling_tx_per_s)} tx/s**. fsync of a small append: ${fmt(c.fsync_per_s)}/s (one fsync per block on each node's Raft append is far from binding at the observed block sizes).`,
  );
  lines.push("");
  lines.push("## Throughput and latency, 3 nodes");
  lines.push("");
  lines.push(phaseTable(t.phases ?? []));
  lines.push("");
  if ((t.phases ?? []).some((p) => p.stalled)) {
    lines.push(
      "**A phase stalled**: its mempools were not empty when the drain ended. Diagnosis (a stalled leader, paused with the inspector, was in `proposeBlock` -> `encodeBlock`; block sizes from its chain.db): once the leader's mempool holds about 1,900 or more access.logs, the block it builds (2,048 txs of about 440 bytes, plus about 86 bytes of result each) exceeds Raft's 1 MiB proposal limit (`ledger_block_bytes_max` counts only the transactions' bytes), `propose` throws PROPOSAL_DROPPED, and the leader rebuilds the same block on every loop iteration: no block ever commits and its event loop starves the API. This is why the rates above 500 tx/s each run on a fresh cluster.",
    );
    lines.push("");
  }
  lines.push("Answers to `POST /txs` (status and code):");
  lines.push("");
  lines.push(answersTable(t.phases ?? []));
  lines.push("");
  lines.push("![throughput](throughput.svg) ![latency](latency.svg)");
  lines.push("");
  lines.push("![committed per second](timeline.svg)");
  lines.push("");
  lines.push("## Reads against chain length");
  lines.push("");
  lines.push("| chain txs | audit p50 ms | audit p99 ms | access check p50 ms | access check p99 ms |");
  lines.push("|---|---|---|---|---|");
  for (const r of t.reads ?? []) {
    lines.push(
      `| ${fmt(r.chain_txs)} | ${fmt(r.audit_ms.p50, 2)} | ${fmt(r.audit_ms.p99, 2)} | ${fmt(r.access_check_ms.p50, 2)} | ${fmt(r.access_check_ms.p99, 2)} |`,
    );
  }
  lines.push("");
  lines.push("![reads](reads.svg)");
  lines.push("");
  const a = t.autocannon_access_check;
  if (a) {
    lines.push(
      `autocannon, \`GET /access/check\`, ${a.connections} connections, ${a.duration_s} s: **${fmt(a.req_per_s)} req/s**, latency p50 ${a.latency_ms.p50} ms, p90 ${a.latency_ms.p90} ms, p99 ${a.latency_ms.p99} ms, max ${a.latency_ms.max} ms; non-2xx ${a.non2xx}, errors ${a.errors}.`,
    );
    lines.push("");
  }
  lines.push("## Catch-up of a new node");
  lines.push("");
  lines.push(
    "| chain txs | blocks | leader's snapshot index | vote s | process ready s | caught up s (from spawn) | reached |",
  );
  lines.push("|---|---|---|---|---|---|---|");
  for (const k of t.catch_up ?? []) {
    if (k.error !== undefined) {
      lines.push(`| ${fmt(k.chain_txs)} | failed: ${k.error} | | | | | no |`);
      continue;
    }
    lines.push(
      `| ${fmt(k.chain_txs)} | ${fmt(k.chain_blocks)} | ${fmt(k.leader_snapshot_index)} | ${k.vote_s} | ${k.process_ready_s} | ${k.catch_up_s} | ${k.reached ? "yes" : `no (height ${k.height_reached})`} |`,
    );
  }
  lines.push("");
  lines.push("## Disk");
  lines.push("");
  lines.push("| node | joined later | chain.db bytes | txs | blocks | bytes/tx |");
  lines.push("|---|---|---|---|---|---|");
  for (const d of t.disk ?? [])
    lines.push(
      `| ${d.node} | ${d.joined_later ? "yes" : "no"} | ${fmt(d.bytes)} | ${fmt(d.txs)} | ${fmt(d.blocks)} | ${fmt(d.bytes_per_tx)} |`,
    );
  const tables = (t.disk ?? [])[0]?.tables;
  if (tables) {
    lines.push("");
    lines.push(
      `Largest tables and indexes of node 0 (dbstat): ${tables.map((x) => `${x.name} ${fmt(x.bytes)}`).join(", ")}.`,
    );
  }
  lines.push("");
  if ((result.scale ?? []).length > 0) {
    lines.push("## Scale: flat out on 5 and 7 nodes");
    lines.push("");
    const three = (t.phases ?? []).find((p) => p.label === "saturation");
    lines.push(phaseTable([...(three ? [three] : []), ...result.scale]));
    lines.push("");
  } else {
    lines.push("## Scale");
    lines.push("");
    lines.push("Not run in a quick run (3 nodes only).");
    lines.push("");
  }
  if (result.profile) {
    for (const role of ["leader", "follower"]) {
      const p = result.profile[role];
      if (!p) continue;
      lines.push(
        `## CPU profile of the ${role} (node --cpu-prof, ${result.plan.profile_duration_ms / 1000} s flat out, ${fmt(result.profile.committed_tx_per_s_under_profiler)} tx/s under the profiler)`,
      );
      lines.push("");
      lines.push(`Busy ${fmt(p.busy_ms)} of ${fmt(p.total_ms)} ms (idle ${p.idle_pct}%). Top self time:`);
      lines.push("");
      lines.push("| # | function | where | self ms | % of busy |");
      lines.push("|---|---|---|---|---|");
      p.top.forEach((f, i) => {
        lines.push(
          `| ${i + 1} | \`${f.function}\` | ${f.location} | ${fmt(f.self_ms)} | ${f.self_pct_of_busy} |`,
        );
      });
      lines.push("");
      lines.push("Inclusive time of the project's own functions (packages/*):");
      lines.push("");
      lines.push("| function and where | total ms | % of busy |");
      lines.push("|---|---|---|");
      for (const f of p.top_inclusive_own_code ?? [])
        lines.push(`| \`${f.function}\` | ${fmt(f.total_ms)} | ${f.pct_of_busy} |`);
      lines.push("");
    }
  }
  return `${lines.join("\n")}\n`;
}

function charts(result) {
  const phases = result.three_nodes?.phases ?? [];
  const open = phases.filter((p) => p.mode === "open");
  const saturation = phases.find((p) => p.label === "saturation");
  const ceiling = result.ceiling?.ceiling_tx_per_s ?? 0;
  const max_x = Math.max(2_500, ...(saturation ? [saturation.sent_per_s * 1.1] : []));
  const throughput = lineChart({
    title: "Committed tx/s against offered load (3 nodes)",
    x_label: "offered tx/s (open loop); the square: closed loop flat out",
    y_label: "committed tx/s",
    x_max: max_x,
    series: [
      {
        name: "ideal (committed = offered)",
        points: [
          [0, 0],
          [max_x, max_x],
        ],
        dashed: true,
        color: "#999",
      },
      // The ceiling is drawn only when it is on the same scale as the data; else named in the legend.
      ceiling <= 1.5 * max_x
        ? {
            name: `ceiling ${ceiling} tx/s`,
            points: [
              [0, ceiling],
              [max_x, ceiling],
            ],
            dashed: true,
            color: "#c33",
          }
        : { name: `ceiling ${ceiling} tx/s (off the chart)`, points: [], dashed: true, color: "#c33" },
      {
        name: "open loop",
        points: open.map((p) => [p.offered_tx_per_s, p.committed_tx_per_s]),
        color: "#1f6fb2",
      },
      ...(saturation
        ? [
            {
              name: "flat out",
              points: [[saturation.sent_per_s, saturation.committed_tx_per_s]],
              color: "#e08a00",
              square: true,
            },
          ]
        : []),
    ],
  });
  const labels = [...open.map((p) => String(p.offered_tx_per_s)), ...(saturation ? ["flat out"] : [])];
  const latency_phases = [...open, ...(saturation ? [saturation] : [])];
  const pick = (key) =>
    latency_phases.map((p, i) => [i, p.commit_latency_ms[key]]).filter(([, v]) => v !== null);
  const latency = lineChart({
    title: "Submit-to-commit latency (3 nodes)",
    x_label: "offered tx/s",
    y_label: "ms (log scale)",
    x_categories: labels,
    y_log: true,
    series: [
      { name: "p50", points: pick("p50"), color: "#1f6fb2" },
      { name: "p90", points: pick("p90"), color: "#2a9d55" },
      { name: "p99", points: pick("p99"), color: "#e08a00" },
      { name: "max", points: pick("max"), color: "#c33" },
    ],
  });
  const reads = result.three_nodes?.reads ?? [];
  const reads_chart = lineChart({
    title: "Read latency against chain length (sequential, one connection)",
    x_label: "committed txs in the chain",
    y_label: "ms",
    series: [
      { name: "audit trail p50", points: reads.map((r) => [r.chain_txs, r.audit_ms.p50]), color: "#1f6fb2" },
      {
        name: "audit trail p99",
        points: reads.map((r) => [r.chain_txs, r.audit_ms.p99]),
        color: "#1f6fb2",
        dashed: true,
      },
      {
        name: "access check p50",
        points: reads.map((r) => [r.chain_txs, r.access_check_ms.p50]),
        color: "#e08a00",
      },
      {
        name: "access check p99",
        points: reads.map((r) => [r.chain_txs, r.access_check_ms.p99]),
        color: "#e08a00",
        dashed: true,
      },
    ],
  });
  const timeline = lineChart({
    title: "Committed tx per second during each phase (3 nodes)",
    x_label: "seconds since the phase started",
    y_label: "committed tx/s",
    series: phases
      .filter((p) => !p.label.startsWith("prefill"))
      .map((p, i) => ({
        name: p.label,
        points: p.committed_per_second.filter(([s]) => s >= 0),
        color: ["#1f6fb2", "#2a9d55", "#7b4fb2", "#e08a00"][i % 4],
      })),
  });
  return {
    "throughput.svg": throughput,
    "latency.svg": latency,
    "reads.svg": reads_chart,
    "timeline.svg": timeline,
  };
}

export function writeOutputs(dir, result) {
  const target = result.kind === "quick" ? join(dir, "quick") : dir;
  mkdirSync(target, { recursive: true });
  for (const name of readdirSync(target)) {
    if (/^\d{4}-\d{2}-\d{2}T.*\.json$/.test(name)) rmSync(join(target, name));
  }
  const stamp = result.date.replaceAll(":", "-").replace(/\.\d+Z$/, "Z");
  writeFileSync(join(target, `${stamp}.json`), `${JSON.stringify(result, null, 1)}\n`);
  const summary = summarize(result);
  writeFileSync(join(target, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(join(target, "report.md"), report(result, summary));
  for (const [name, svg] of Object.entries(charts(result))) writeFileSync(join(target, name), svg);
  return summary;
}
