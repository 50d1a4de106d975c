// The system benchmark (issue 7). Real node processes over the built packages, load generators in their
// own processes submitting pre-signed access.log transactions over the HTTP API, the machine's ceiling
// measured in the same run, the read path under autocannon, scale and catch-up, then JSON, Markdown and
// SVG charts in bench/results/. Usage: node bench/src/run.mjs [--quick] [--no-profile] [--out DIR].
// Method and caveats are written into the report itself (bench/results/report.md).
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { identityOf, MedledgerClient, txBuilder } from "@medledger/client";
import { fromHex, toHex } from "@medledger/protocol";
import { nodeSigner } from "@medledger/protocol/node";
import Database from "better-sqlite3";
import { fsyncPerSecond, verifyPerSecond } from "./ceiling.mjs";
import { admin_token, Cluster, killAll, secretOf, sleep } from "./cluster.mjs";
import { agentOf, blockStream, now_ms, percentiles, request } from "./http.mjs";
import { analyzeProfile } from "./profile.mjs";
import { writeOutputs } from "./report.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const profile_only = args.includes("--profile-only");
const profile_on = profile_only || (!quick && !args.includes("--no-profile"));
// --profile-rate N: profile an open-loop run at N tx/s instead of flat out.
const profile_rate = args.includes("--profile-rate") ? Number(args[args.indexOf("--profile-rate") + 1]) : 0;
// --batch N: transactions per HTTP request (POST /txs/batch); 1 = one POST /txs each.
const batch = args.includes("--batch") ? Number(args[args.indexOf("--batch") + 1]) : 64;
if (!Number.isInteger(batch) || batch < 1 || batch > 1024) throw new Error("--batch takes 1..1024");
const out_dir = args.includes("--out") ? args[args.indexOf("--out") + 1] : join(here, "..", "results");

// The plan: one table of every duration and size, so a run's shape is read at once.
const plan = quick
  ? {
      ceiling_ms: 1_000,
      rates: [500, 1_000],
      open_duration_ms: 5_000,
      warmup_ms: 1_500,
      saturation_duration_ms: 7_000,
      grace_ms: 5_000,
      closed_concurrency: batch > 1 ? 16 : 128,
      closed_presign_per_generator: 10_000,
      drain_max_ms: 8_000,
      catch_up_max_ms: 20_000,
      generators: 2,
      providers: 4,
      patients: 64,
      reads_audit: 100,
      reads_check: 300,
      autocannon_s: 5,
      prefill_targets: [],
      scale_sizes: [],
      scale_duration_ms: 0,
      profile_duration_ms: 0,
    }
  : {
      ceiling_ms: 3_000,
      rates: [500, 1_000, 2_000],
      open_duration_ms: 40_000,
      warmup_ms: 10_000,
      saturation_duration_ms: 40_000,
      closed_concurrency: batch > 1 ? 16 : 200,
      closed_presign_per_generator: 50_000,
      drain_max_ms: 30_000,
      grace_ms: 15_000,
      catch_up_max_ms: 300_000,
      generators: 2,
      providers: 4,
      patients: 256,
      reads_audit: 300,
      reads_check: 1_000,
      autocannon_s: 10,
      prefill_targets: [100_000, 250_000],
      scale_sizes: [5, 7],
      scale_duration_ms: 20_000,
      profile_duration_ms: 20_000,
    };

const log = (...parts) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...parts);

function machine() {
  const model = cpus()[0]?.model ?? "unknown";
  return {
    nproc: availableParallelism(),
    cpu_model: model.trim(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadavg_at_start: loadavg().map((v) => Math.round(v * 100) / 100),
    shared_and_noisy: true,
  };
}

/** Registers providers (by member 0), patients, and each patient's consent to member 0's providers. */
async function setupWorkload(cluster, leader) {
  const client = new MedledgerClient({ baseUrl: cluster.apiUrls[leader], adminToken: admin_token });
  const txs = txBuilder({ chain: cluster.chain });
  const member = identityOf(cluster.members[0]);
  const providerSecrets = Array.from({ length: plan.providers }, (_, i) => secretOf(`provider-${i}`));
  const providers = providerSecrets.map((secret) => identityOf(nodeSigner(secret)));
  const patients = Array.from({ length: plan.patients }, (_, i) =>
    identityOf(nodeSigner(secretOf(`${cluster.chain}-patient-${i}`))),
  );
  await Promise.all(
    providers.map((provider) =>
      client.commit(
        txs.providerRegister(member, { provider: provider.did, licenseHash: secretOf(provider.did) }),
      ),
    ),
  );
  await Promise.all(patients.map((patient) => client.commit(txs.patientRegister(patient))));
  await Promise.all(
    patients.map((patient) =>
      client.commit(
        txs.consentGrant(patient, {
          grantee: member.did,
          categories: ["labs", "medications", "allergies"],
          purposes: ["TREAT"],
          durationMs: 30 * 86_400_000,
        }),
      ),
    ),
  );
  return {
    providerSecrets: providerSecrets.map((secret) => toHex(secret)),
    providers: providers.map((p) => p.did),
    patients: patients.map((p) => p.did),
    setup_txs: providers.length + 2 * patients.length,
  };
}

let phase_counter = 0;

/** Spawns a generator; resolves when it has pre-signed its transactions. */
function spawnGenerator(config) {
  const child = spawn(process.execPath, [join(here, "loadgen.mjs"), JSON.stringify(config)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const waiters = new Map();
  lines.on("line", (line) => {
    try {
      const message = JSON.parse(line);
      waiters.get(message.event)?.(message);
    } catch {}
  });
  const once = (event) => new Promise((resolve) => waiters.set(event, resolve));
  return { child, signed: once("signed"), done: once("done") };
}

/**
 * One load phase: `mode` open (at `rate` tx/s) or closed (flat out). Commits are timed by a block stream
 * per node (the arrival of the block event at the node the transaction was sent to); ids are mapped to
 * heights afterwards (GET /blocks/{height}), outside the measured window.
 */
async function runPhase(cluster, workload, { mode, rate = 0, duration_ms, warmup_ms, label }) {
  const phase = ++phase_counter;
  const nodes = [...cluster.running.keys()];
  const urls = nodes.map((i) => cluster.apiUrls[i]);
  const per_generator =
    mode === "open"
      ? Math.ceil(((rate / plan.generators) * duration_ms) / 1000) + 8
      : plan.closed_presign_per_generator;
  const scratch = join(tmpdir(), `medledger-bench-phase-${process.pid}-${phase}`);
  mkdirSync(scratch, { recursive: true });
  const generators = Array.from({ length: plan.generators }, (_, g) =>
    spawnGenerator({
      chain: cluster.chain,
      generator: g,
      providerSecrets: workload.providerSecrets,
      patients: workload.patients,
      urls,
      count: per_generator,
      mode,
      rate: rate / plan.generators,
      duration_ms,
      concurrency: plan.closed_concurrency,
      batch,
      // With batches, the open loop flushes what is due every 5 ms (each transaction timed from its own schedule).
      tick_ms: batch > 1 ? 5 : 2,
      wait_timeout_ms: 15_000,
      grace_ms: plan.grace_ms,
      sockets: mode === "open" ? 256 : plan.closed_concurrency,
      nonceBase: phase * 1_000_000_000 + g * 100_000_000,
      out: join(scratch, `gen-${g}.json`),
    }),
  );
  const signed = await Promise.all(generators.map((g) => g.signed));
  // Block arrivals: per node, height -> arrival time; block sizes from any node.
  const arrivals = urls.map(() => new Map());
  const tx_counts = new Map();
  const streams = urls.map((url, n) =>
    blockStream(url, (block, arrival_ms) => {
      if (!arrivals[n].has(block.height)) arrivals[n].set(block.height, arrival_ms);
      tx_counts.set(block.height, block.txCount);
    }),
  );
  await sleep(300);
  const start_ms = Math.ceil(now_ms()) + 300;
  log(`${label}: ${mode} ${mode === "open" ? `${rate} tx/s` : "flat out"} for ${duration_ms / 1000} s`);
  for (const g of generators) g.child.stdin.write(`go ${start_ms}\n`);
  await Promise.all(generators.map((g) => g.done));
  // Drain: keep observing until every mempool is empty and no block came for 1 s (at most drain_max_ms),
  // so that an overloaded phase's backlog is measured (its latency tail) and does not leak into the next.
  const drain_start = now_ms();
  let last = -1;
  let quiet_since = now_ms();
  while (now_ms() - drain_start < plan.drain_max_ms) {
    const top = Math.max(0, ...tx_counts.keys());
    if (top !== last) {
      last = top;
      quiet_since = now_ms();
    } else if (now_ms() - quiet_since > 1_000) {
      const statuses = await Promise.all(nodes.map((i) => cluster.status(i)));
      if (statuses.every((s) => s !== null && s.mempoolSize === 0)) break;
    }
    await sleep(200);
  }
  const drain_s = Math.round(now_ms() - drain_start) / 1000;
  const final = await Promise.all(nodes.map((i) => cluster.status(i)));
  const mempools_after = final.map((status) => status?.mempoolSize ?? null);
  const stalled =
    drain_s * 1000 >= plan.drain_max_ms && mempools_after.some((size) => size === null || size > 0);
  for (const stream of streams) stream.close();
  const outputs = generators.map((_, g) => JSON.parse(readFileSync(join(scratch, `gen-${g}.json`), "utf8")));
  rmSync(scratch, { recursive: true, force: true });
  const heights = [...tx_counts.keys()].sort((a, b) => a - b);
  const height_of = await idsToHeights(urls[0], heights);
  return summarizePhase({
    mode,
    rate,
    duration_ms,
    warmup_ms,
    label,
    nodes: nodes.length,
    start_ms,
    outputs,
    arrivals,
    tx_counts,
    height_of,
    sign_ms: Math.max(...signed.map((s) => s.sign_ms)),
    drain_s,
    mempools_after,
    stalled,
  });
}

async function idsToHeights(url, heights) {
  const agent = agentOf(8);
  const height_of = new Map();
  for (let i = 0; i < heights.length; i += 8) {
    const slice = heights.slice(i, i + 8);
    const answers = await Promise.all(slice.map((h) => request(agent, `${url}/blocks/${h}`)));
    answers.forEach((answer, k) => {
      for (const id of answer.body?.ids ?? []) height_of.set(id, slice[k]);
    });
  }
  agent.destroy();
  return height_of;
}

function summarizePhase(p) {
  const window_start = p.start_ms + p.warmup_ms;
  const window_end = p.start_ms + p.duration_ms;
  const window_s = (window_end - window_start) / 1000;
  const samples = p.outputs.flatMap((o) => o.samples);
  const codes = {};
  for (const s of samples) codes[`${s[3]} ${s[5]}`] = (codes[`${s[3]} ${s[5]}`] ?? 0) + 1;
  const latencies = [];
  let committed_of_sent = 0;
  for (const [id, node, send_ms, status, answer_ms, code] of samples) {
    const height = p.height_of.get(id);
    let commit_ms = null;
    if (p.mode === "closed") {
      if (status === 200 && code === "committed") commit_ms = answer_ms;
    } else if (height !== undefined) {
      commit_ms = p.arrivals[node].get(height) ?? p.arrivals.find((a) => a.has(height))?.get(height) ?? null;
    }
    if (commit_ms === null) continue;
    committed_of_sent++;
    if (send_ms >= window_start && send_ms < window_end) latencies.push(commit_ms - send_ms);
  }
  // Committed throughput: transactions in blocks whose event reached the first node inside the window.
  let in_window = 0;
  let total = 0;
  const per_second = new Map();
  for (const [height, count] of p.tx_counts) {
    total += count;
    const at = p.arrivals[0].get(height) ?? p.arrivals.find((a) => a.has(height))?.get(height);
    if (at === undefined) continue;
    if (at >= window_start && at < window_end) in_window += count;
    const second = Math.floor((at - p.start_ms) / 1000);
    per_second.set(second, (per_second.get(second) ?? 0) + count);
  }
  const sent = samples.length;
  const offered_per_s = p.mode === "open" ? p.rate : null;
  const blocks = p.tx_counts.size;
  return {
    label: p.label,
    mode: p.mode,
    nodes: p.nodes,
    offered_tx_per_s: offered_per_s,
    sent,
    sent_per_s: Math.round(sent / (p.duration_ms / 1000)),
    generator_presign_ms: p.sign_ms,
    drain_s: p.drain_s,
    mempools_after_drain: p.mempools_after,
    stalled: p.stalled,
    exhausted: p.outputs.some((o) => o.exhausted),
    measured_window_s: window_s,
    committed_tx_per_s: Math.round(in_window / window_s),
    committed_total: total,
    committed_of_sent,
    not_committed: sent - committed_of_sent,
    blocks,
    mean_txs_per_block: blocks === 0 ? 0 : Math.round(total / blocks),
    answers: codes,
    commit_latency_ms: percentiles(latencies),
    committed_per_second: [...per_second.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => [s, n]),
  };
}

/** Sequential GETs of a patient's audit trail and of an access check: latency percentiles. */
async function readLatency(cluster, workload, index) {
  const agent = agentOf(1);
  const url = cluster.apiUrls[index];
  const patient = workload.patients[0];
  const audit = [];
  for (let i = 0; i < plan.reads_audit; i++) {
    const t = now_ms();
    const answer = await request(agent, `${url}/patients/${patient}/audit?limit=50`, {
      headers: { authorization: `Bearer ${admin_token}` },
    });
    if (answer.status !== 200) throw new Error(`audit: ${answer.status} ${JSON.stringify(answer.body)}`);
    audit.push(now_ms() - t);
  }
  const check = [];
  const path = checkPath(workload);
  let decision = null;
  for (let i = 0; i < plan.reads_check; i++) {
    const t = now_ms();
    const answer = await request(agent, `${url}${path}`);
    if (answer.status !== 200) throw new Error(`check: ${answer.status} ${JSON.stringify(answer.body)}`);
    check.push(now_ms() - t);
    decision = answer.body.decision;
  }
  agent.destroy();
  return { audit_ms: percentiles(audit), access_check_ms: percentiles(check), decision };
}

function checkPath(workload) {
  const q = new URLSearchParams({
    provider: workload.providers[0],
    patient: workload.patients[0],
    category: "labs",
    purpose: "TREAT",
  });
  return `/access/check?${q}`;
}

function runAutocannon(url, duration_s) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(here, "autocannon-run.mjs"), JSON.stringify({ url, connections: 10, duration_s })],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
    });
    child.on("exit", (code) =>
      code === 0 ? resolve(JSON.parse(out.trim())) : reject(new Error("autocannon")),
    );
  });
}

/**
 * A new node joins: spare member `index` (not in the genesis) is proposed by member 0 and approved by the
 * other founders; once the vote is committed its node process starts with an empty data directory, and we
 * time it from spawn until its height reaches the leader's height at that moment (Raft log replay, or a
 * snapshot and state transfer when the leader's log is compacted). Real processes.
 */
async function joinNode(cluster, leader, index, chain_txs) {
  try {
    return await joinNodeOnce(cluster, leader, index, chain_txs);
  } catch (error) {
    return { chain_txs, reached: false, error: String(error?.message ?? error) };
  }
}

async function joinNodeOnce(cluster, leader, index, chain_txs) {
  const client = new MedledgerClient({ baseUrl: cluster.apiUrls[leader], adminToken: admin_token });
  const txs = txBuilder({ chain: cluster.chain });
  const proposal = txs.memberPropose(identityOf(cluster.members[0]), {
    action: "add",
    member: cluster.members[index].did,
    nodes: [cluster.nodeIds[index]],
    deadline: Date.now() + 30 * 60_000,
  });
  const vote_start = now_ms();
  await waitForEmptyMempools(cluster, plan.catch_up_max_ms);
  await client.commit(proposal, { timeoutMs: 120_000 });
  for (let founder = 1; founder < cluster.founders; founder++) {
    const vote = txs.memberVote(identityOf(cluster.members[founder]), {
      proposal: fromHex(proposal.id),
      approve: true,
    });
    await client.commit(vote, { timeoutMs: 120_000 }).catch(() => undefined); // a vote after the majority is rejected: fine
  }
  const vote_s = (now_ms() - vote_start) / 1000;
  const leader_status = await cluster.status(leader);
  const target = leader_status.height;
  const t0 = now_ms();
  await cluster.start(index);
  const ready_ms = now_ms() - t0;
  const deadline = t0 + plan.catch_up_max_ms;
  let height = 0;
  while (now_ms() < deadline) {
    height = (await cluster.status(index))?.height ?? 0;
    if (height >= target) break;
    await sleep(50);
  }
  const seconds = (now_ms() - t0) / 1000;
  return {
    chain_txs,
    chain_blocks: target,
    leader_snapshot_index: leader_status.snapshotIndex,
    vote_s: Math.round(vote_s * 100) / 100,
    process_ready_s: Math.round(ready_ms) / 1000,
    catch_up_s: Math.round(seconds * 100) / 100,
    reached: height >= target,
    height_reached: height,
  };
}

async function waitForEmptyMempools(cluster, max_ms) {
  const deadline = now_ms() + max_ms;
  while (now_ms() < deadline) {
    const statuses = await Promise.all([...cluster.running.keys()].map((i) => cluster.status(i)));
    if (statuses.every((s) => s !== null && s.mempoolSize === 0)) return;
    await sleep(200);
  }
}

/** After a clean stop: per node, chain.db (+wal) bytes after a TRUNCATE checkpoint, committed txs. */
function diskUsage(cluster) {
  const nodes = [];
  for (let i = 0; i < cluster.size; i++) {
    if (!cluster.hasDb(i)) continue;
    const path = cluster.chainDbPath(i);
    const db = new Database(path);
    db.pragma("wal_checkpoint(TRUNCATE)");
    const txs = db.prepare("SELECT count(*) AS n FROM txs").get().n;
    const blocks = db.prepare("SELECT count(*) AS n FROM blocks").get().n;
    let tables = null;
    try {
      tables = db
        .prepare("SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC LIMIT 8")
        .all();
    } catch {
      tables = null;
    }
    db.close();
    const dir = dirname(path);
    const bytes = readdirSync(dir)
      .filter((name) => name.startsWith("chain.db"))
      .reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
    nodes.push({
      node: i,
      joined_later: i >= cluster.founders,
      bytes,
      txs,
      blocks,
      bytes_per_tx: txs === 0 ? null : Math.round(bytes / txs),
      tables,
    });
  }
  return nodes;
}

async function startCluster(size, name, options = {}, spares = 0) {
  const cluster = await Cluster.create(size, name, spares);
  await cluster.startAll(options);
  const leader = await cluster.waitForLeader();
  const workload = await setupWorkload(cluster, leader);
  return { cluster, leader, workload };
}

async function main() {
  const started = Date.now();
  const result = {
    kind: quick ? "quick" : "full",
    date: new Date().toISOString(),
    machine: machine(),
    plan: { ...plan, batch },
    workload: `access.log transactions (provider logs an access to a consenting patient's labs/medications/allergies/problems for TREAT), pre-signed with node:crypto ed25519, posted as {encoded} round-robin to every node's API, ${batch > 1 ? `in POST /txs/batch requests of at most ${batch} (open loop: what is due every 5 ms; closed loop: ${batch} per request with wait=true)` : "one POST /txs per transaction"}`,
  };
  log(`machine: ${result.machine.nproc} cores, ${result.machine.cpu_model}, Node ${result.machine.node}`);
  if (profile_only) {
    const profile = await profileRun();
    console.log(JSON.stringify(profile, null, 1));
    return;
  }

  // 1. The ceiling, in the same run.
  const verify_per_s = verifyPerSecond(plan.ceiling_ms);
  const fsync_per_s = fsyncPerSecond(plan.ceiling_ms);
  result.ceiling = {
    ed25519_verify_per_s_one_core: verify_per_s,
    fsync_per_s,
    cores: result.machine.nproc,
    nodes: 3,
    ceiling_tx_per_s: Math.round((verify_per_s * result.machine.nproc) / 3),
    formula:
      "verify/s (one core, node:crypto, cached KeyObject) x cores / nodes: each tx is verified once per node",
  };
  log("ceiling", result.ceiling);

  // 2. Three nodes: open loop at each rate, then closed loop flat out.
  const { cluster, leader, workload } = await startCluster(3, "main", {}, 1 + plan.prefill_targets.length);
  let chain_txs = workload.setup_txs;
  result.three_nodes = { leader, phases: [], reads: [], catch_up: [] };
  try {
    result.three_nodes.reads.push({ chain_txs, ...(await readLatency(cluster, workload, 0)) });
    // The rates up to 500 tx/s and flat out (closed loop: the backlog stays at the workers' count) on
    // this cluster; each higher rate on a fresh 3-node cluster (step 5), so that the nodes voted in and
    // the long chains of the later steps do not weigh on it.
    for (const rate of plan.rates.filter((r) => r <= 500)) {
      const phase = await runPhase(cluster, workload, {
        mode: "open",
        rate,
        duration_ms: plan.open_duration_ms,
        warmup_ms: plan.warmup_ms,
        label: `open ${rate}`,
      });
      chain_txs += phase.committed_total;
      result.three_nodes.phases.push(phase);
      log(phase.label, phase.committed_tx_per_s, "tx/s", phase.commit_latency_ms);
    }
    const saturation = await runPhase(cluster, workload, {
      mode: "closed",
      duration_ms: plan.saturation_duration_ms,
      warmup_ms: plan.warmup_ms,
      label: "saturation",
    });
    chain_txs += saturation.committed_total;
    result.three_nodes.phases.push(saturation);
    log(saturation.label, saturation.committed_tx_per_s, "tx/s", saturation.commit_latency_ms);
    result.three_nodes.reads.push({ chain_txs, ...(await readLatency(cluster, workload, 0)) });

    // The read path under autocannon (the cluster idle, still 3 nodes).
    result.three_nodes.autocannon_access_check = await runAutocannon(
      `${cluster.apiUrls[0]}${checkPath(workload)}`,
      plan.autocannon_s,
    );
    log("autocannon", result.three_nodes.autocannon_access_check);

    // 3. A new node joins (after the measured phases: from here on the cluster has one more voter);
    // then longer chains, filled flat out, with reads and another new node at each target.
    let spare = 3;
    result.three_nodes.catch_up.push(await joinNode(cluster, leader, spare++, chain_txs));
    log("new node", result.three_nodes.catch_up.at(-1));
    for (const target of plan.prefill_targets) {
      while (chain_txs < target) {
        const fill = await runPhase(cluster, workload, {
          mode: "closed",
          duration_ms: Math.min(
            60_000,
            Math.max(10_000, ((target - chain_txs) / Math.max(saturation.committed_tx_per_s, 200)) * 1000),
          ),
          warmup_ms: 0,
          label: `prefill to ${target}`,
        });
        chain_txs += fill.committed_total;
        result.three_nodes.prefill = [
          ...(result.three_nodes.prefill ?? []),
          { chain_txs, committed_tx_per_s: fill.committed_tx_per_s, nodes: fill.nodes },
        ];
        log("prefill", chain_txs, "txs", fill.committed_tx_per_s, "tx/s");
        if (fill.committed_total === 0) break;
      }
      result.three_nodes.reads.push({ chain_txs, ...(await readLatency(cluster, workload, 0)) });
      result.three_nodes.catch_up.push(await joinNode(cluster, leader, spare++, chain_txs));
      log("new node", result.three_nodes.catch_up.at(-1));
    }

    result.three_nodes.chain_txs = chain_txs;
  } finally {
    await cluster.stopAll();
    result.three_nodes.disk = diskUsage(cluster);
    await cluster.destroy();
  }
  log(
    "disk",
    result.three_nodes.disk.map((d) => d.bytes_per_tx),
  );

  // 5. The higher open-loop rates, each on a fresh 3-node cluster.
  for (const rate of plan.rates.filter((r) => r > 500)) {
    const fresh = await startCluster(3, `open${rate}`);
    try {
      const phase = await runPhase(fresh.cluster, fresh.workload, {
        mode: "open",
        rate,
        duration_ms: plan.open_duration_ms,
        warmup_ms: plan.warmup_ms,
        label: `open ${rate}`,
      });
      phase.fresh_cluster = true;
      result.three_nodes.phases.push(phase);
      log(phase.label, phase.committed_tx_per_s, "tx/s", phase.commit_latency_ms, "stalled:", phase.stalled);
    } finally {
      await fresh.cluster.destroy();
    }
  }
  result.three_nodes.phases.sort((a, b) => (a.offered_tx_per_s ?? 1e9) - (b.offered_tx_per_s ?? 1e9));

  // 6. Scale: 5 and 7 nodes, flat out.
  result.scale = [];
  for (const size of plan.scale_sizes) {
    const scaled = await startCluster(size, `scale${size}`);
    try {
      const phase = await runPhase(scaled.cluster, scaled.workload, {
        mode: "closed",
        duration_ms: plan.scale_duration_ms,
        warmup_ms: Math.min(plan.warmup_ms, plan.scale_duration_ms / 4),
        label: `saturation ${size} nodes`,
      });
      result.scale.push(phase);
      log(phase.label, phase.committed_tx_per_s, "tx/s", phase.commit_latency_ms);
    } finally {
      await scaled.cluster.destroy();
    }
  }

  // 7. A CPU profile of every node during a saturation run; the leader's top self-time functions.
  if (profile_on) result.profile = await profileRun();

  result.duration_s = Math.round((Date.now() - started) / 1000);
  writeOutputs(out_dir, result);
  log(`done in ${result.duration_s} s: ${out_dir}`);
}

async function profileRun() {
  const profile_root = join(tmpdir(), `medledger-bench-prof-${process.pid}`);
  const cluster = await Cluster.create(3, "prof");
  await Promise.all(
    [0, 1, 2].map((i) =>
      cluster.start(i, { execArgv: ["--cpu-prof", `--cpu-prof-dir=${join(profile_root, `node-${i}`)}`] }),
    ),
  );
  const leader = await cluster.waitForLeader();
  const workload = await setupWorkload(cluster, leader);
  let phase;
  try {
    phase = await runPhase(cluster, workload, {
      mode: profile_rate > 0 ? "open" : "closed",
      rate: profile_rate,
      duration_ms: plan.profile_duration_ms || 15_000,
      warmup_ms: 0,
      label: profile_rate > 0 ? `profiled open ${profile_rate}` : "profiled saturation",
    });
  } finally {
    await cluster.destroy();
  }
  const profiles = [0, 1, 2].map((i) => {
    const dir = join(profile_root, `node-${i}`);
    const file = readdirSync(dir).find((name) => name.endsWith(".cpuprofile"));
    return file === undefined ? null : analyzeProfile(JSON.parse(readFileSync(join(dir, file), "utf8")));
  });
  if (args.includes("--keep-profiles")) log(`profiles kept in ${profile_root}`);
  else rmSync(profile_root, { recursive: true, force: true });
  const follower = [0, 1, 2].find((i) => i !== leader);
  return {
    phase: phase.label,
    committed_tx_per_s_under_profiler: phase.committed_tx_per_s,
    commit_latency_ms_under_profiler: phase.commit_latency_ms,
    answers: phase.answers,
    leader: profiles[leader],
    follower: profiles[follower],
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => {
      killAll();
      process.exit(130);
    });
  }
  main().catch((error) => {
    console.error(error);
    killAll();
    process.exit(1);
  });
}

export { joinNode, runPhase, setupWorkload, startCluster };
