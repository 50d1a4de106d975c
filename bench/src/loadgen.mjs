// A load generator in its own process. It pre-signs `count` access.log transactions (by the given
// providers, for the given patients, who consented), reports {"event":"signed"}, waits for a
// "go <start_ms>" line on stdin, then submits them over HTTP (POST /txs, {encoded}) round-robin to the
// nodes' APIs:
// - open loop: at a fixed rate, each transaction at its scheduled time whatever the answers (the send
//   time recorded is the schedule's, so queueing in the generator counts: no coordinated omission);
//   commits are observed by the driver's block stream;
// - closed loop: `concurrency` workers, each POST /txs?wait=true and the next one when it answers
//   (the commit time is the answer's arrival).
// With `batch` > 1 the transactions go in POST /txs/batch requests of at most `batch`: in the open loop
// each tick sends what is due (each transaction still timed from its own schedule), in the closed loop
// each worker sends `batch` at a time with wait=true.
// At the end it writes its samples to `out` and prints {"event":"done"}.
import { setMaxListeners } from "node:events";
import { writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { encodeSignedTx, fromHex, signTx, toHex, txId } from "@medledger/protocol";
import { nodeSigner } from "@medledger/protocol/node";
import { agentOf, now_ms, request } from "./http.mjs";

const config = JSON.parse(process.argv[2] ?? "{}");
const providers = config.providerSecrets.map((hex) => nodeSigner(fromHex(hex)));
const categories = ["labs", "medications", "allergies", "problems"];

function presign() {
  const txs = [];
  const expires = Date.now() + 50 * 60_000;
  for (let i = 0; i < config.count; i++) {
    const provider = providers[i % providers.length];
    const unsigned = {
      v: 1,
      chain: config.chain,
      kind: "access.log",
      signer: provider.did,
      nonce: config.nonceBase + i,
      expires,
      body: {
        patient: config.patients[(i * 7 + config.generator) % config.patients.length],
        category: categories[i % categories.length],
        purpose: "TREAT",
      },
    };
    const signed = signTx(unsigned, [provider]);
    txs.push({ id: toHex(txId(signed.tx)), body: { encoded: toHex(encodeSignedTx(signed)) } });
  }
  return txs;
}

const sign_start = Date.now();
const txs = presign();
const sign_ms = Date.now() - sign_start;
const agent = agentOf(config.sockets ?? 64);
// samples: [id, node, send_ms, status, answer_ms]
const samples = [];
// Requests still unanswered grace_ms after the phase's end are aborted (recorded with status 0).
const abort = new AbortController();
setMaxListeners(0, abort.signal); // one listener per request in flight

async function submit(index, send_ms, wait) {
  const tx = txs[index];
  const node = index % config.urls.length;
  const url = `${config.urls[node]}/txs${wait ? `?wait=true&timeoutMs=${config.wait_timeout_ms}` : ""}`;
  const answer = await request(agent, url, { method: "POST", body: tx.body, signal: abort.signal });
  const code =
    answer.status === 200 || answer.status === 202 ? answer.body?.status : answer.body?.error?.code;
  samples.push([tx.id, node, send_ms, answer.status, now_ms(), code ?? answer.error ?? ""]);
}

const batch_max = Math.max(1, config.batch ?? 1);
let batches_sent = 0;

/** Sends txs[from, to) as one POST /txs/batch to the next node; `send_ms_of(i)` times each. */
async function submitBatch(from, to, send_ms_of, wait) {
  const node = batches_sent++ % config.urls.length;
  const query = wait ? `?wait=true&timeoutMs=${config.wait_timeout_ms}` : "";
  const body = { txs: txs.slice(from, to).map((tx) => tx.body) };
  const answer = await request(agent, `${config.urls[node]}/txs/batch${query}`, {
    method: "POST",
    body,
    signal: abort.signal,
  });
  const answered_ms = now_ms();
  const items = answer.status === 200 ? (answer.body?.items ?? []) : [];
  for (let i = from; i < to; i++) {
    const item = items[i - from];
    const code =
      item === undefined
        ? (answer.body?.error?.code ?? answer.error ?? "")
        : item.status === "refused"
          ? item.error?.code
          : item.status;
    samples.push([txs[i].id, node, send_ms_of(i), answer.status, answered_ms, code ?? ""]);
  }
}

async function openLoop(start_ms) {
  const interval_ms = 1000 / config.rate;
  const end_ms = start_ms + config.duration_ms;
  const inflight = new Set();
  let next = 0;
  while (next < txs.length) {
    const now = now_ms();
    if (now >= end_ms) break;
    if (batch_max > 1) {
      // Everything due now, in batches of at most batch_max, each timed from its own schedule.
      let due = next;
      while (due < txs.length) {
        const scheduled = start_ms + due * interval_ms;
        if (scheduled > now || scheduled >= end_ms) break;
        due++;
      }
      for (let from = next; from < due; from += batch_max) {
        const promise = submitBatch(
          from,
          Math.min(due, from + batch_max),
          (i) => start_ms + i * interval_ms,
          false,
        );
        inflight.add(promise);
        promise.then(() => inflight.delete(promise));
      }
      next = due;
    }
    while (batch_max === 1 && next < txs.length) {
      const scheduled = start_ms + next * interval_ms;
      if (scheduled > now || scheduled >= end_ms) break;
      const promise = submit(next, scheduled, false);
      inflight.add(promise);
      promise.then(() => inflight.delete(promise));
      next++;
    }
    await new Promise((resolve) => setTimeout(resolve, config.tick_ms ?? 2));
  }
  await Promise.race([Promise.all(inflight), new Promise((resolve) => setTimeout(resolve, config.grace_ms))]);
  abort.abort();
  await Promise.all(inflight);
  return next;
}

async function closedLoop(start_ms) {
  const end_ms = start_ms + config.duration_ms;
  let next = 0;
  const worker = async () => {
    while (next < txs.length && now_ms() < end_ms) {
      if (batch_max > 1) {
        const from = next;
        next = Math.min(txs.length, next + batch_max);
        const sent_ms = now_ms();
        await submitBatch(from, next, () => sent_ms, true);
        continue;
      }
      const index = next++;
      await submit(index, now_ms(), true);
    }
  };
  const timer = setTimeout(() => abort.abort(), end_ms - now_ms() + config.grace_ms);
  await Promise.all(Array.from({ length: config.concurrency }, worker));
  clearTimeout(timer);
  return next;
}

process.stdout.write(`${JSON.stringify({ event: "signed", count: txs.length, sign_ms })}\n`);
createInterface({ input: process.stdin }).on("line", async (line) => {
  const [word, start] = line.trim().split(" ");
  if (word !== "go") return;
  const start_ms = Number(start);
  while (now_ms() < start_ms) await new Promise((resolve) => setTimeout(resolve, 1));
  const sent = config.mode === "open" ? await openLoop(start_ms) : await closedLoop(start_ms);
  writeFileSync(config.out, JSON.stringify({ sent, exhausted: sent >= txs.length, sign_ms, samples }));
  process.stdout.write(`${JSON.stringify({ event: "done", sent })}\n`);
  agent.destroy();
  process.exit(0);
});
