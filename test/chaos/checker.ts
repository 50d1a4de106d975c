// The chaos checker: reads every node's chain.db after the run (all nodes stopped) and judges the
// recorded history against it. Every acknowledged transaction is in every chain exactly once (at the
// height its acknowledgement named); no two nodes hold different blocks at one height; the app hashes
// agree, and each chain replays from the genesis to its own app hashes (verifyChain); and no access
// submitted after a revoke was acknowledged is permitted by that revoked consent.
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { CHAIN_DB_FILE, type ChainVerification, openChainDb, verifyChain } from "@medledger/node";
import { blockHash, decodeBlockParts, type Genesis, type TxResult, toHex } from "@medledger/protocol";
import type { Op } from "./workload.js";

const execFileAsync = promisify(execFile);
const verify_script = join(dirname(fileURLToPath(import.meta.url)), "verify-chain.mjs");

export interface ChainDump {
  /** Block hash and app hash by height. */
  blocks: Map<number, { hash: string; appHash: string }>;
  /** How often each transaction id occurs in the blocks. */
  counts: Map<string, number>;
  /** Height and result of each transaction id (its first occurrence). */
  txs: Map<string, { height: number; result: TxResult }>;
  verified: { ok: boolean; problem: string };
}

export interface CheckResult {
  acked: number;
  lost_acked: number;
  duplicated: number;
  divergent_heights: number;
  app_hash_mismatches: number;
  replay_failures: number;
  acked_height_mismatches: number;
  decision_mismatches: number;
  revoke_violations: number;
  heights: number[];
  problems: string[];
}

/**
 * Reads the chain databases in `dataDirs`: the blocks here, and each chain's replay from the genesis
 * (verifyChain) in a process of its own, all at once.
 */
export async function readChains(dataDirs: readonly string[], genesis: Genesis): Promise<ChainDump[]> {
  const replays = dataDirs.map((dir) => replayElsewhere(join(dir, CHAIN_DB_FILE), genesis));
  const dumps = dataDirs.map((dir) => readBlocks(join(dir, CHAIN_DB_FILE)));
  const verified = await Promise.all(replays);
  return dumps.map((dump, index) => ({ ...dump, verified: verified[index] as ChainDump["verified"] }));
}

/** verifyChain over `dbPath` in a child process (verify-chain.mjs, over the built packages). */
async function replayElsewhere(dbPath: string, genesis: Genesis): Promise<ChainDump["verified"]> {
  const { stdout } = await execFileAsync(
    process.execPath,
    [verify_script, JSON.stringify({ dbPath, genesis })],
    {
      maxBuffer: 1 << 20,
    },
  );
  return verdict(JSON.parse(stdout) as ChainVerification);
}

function verdict(verification: ChainVerification): ChainDump["verified"] {
  return {
    ok: verification.ok,
    problem: verification.ok ? "" : `${verification.height}: ${verification.problem}`,
  };
}

/** Reads the chain database in `dataDir` (the replay in this process). */
export function readChain(dataDir: string, genesis: Genesis): ChainDump {
  const path = join(dataDir, CHAIN_DB_FILE);
  return { ...readBlocks(path), verified: verdict(verifyChain({ dbPath: path, genesis })) };
}

/** Every block of the chain database at `path`: hashes, app hashes and where each transaction is. */
function readBlocks(path: string): Omit<ChainDump, "verified"> {
  const db = openChainDb({ path, readonly: true });
  const blocks = new Map<number, { hash: string; appHash: string }>();
  const counts = new Map<string, number>();
  const txs = new Map<string, { height: number; result: TxResult }>();
  try {
    // Through the store's own reader: how blocks are laid out on disk is the store's business.
    // Newest first, a bounded batch of contiguous blocks at a time; a missing height is skipped.
    for (let top = db.blocks.tip()?.height ?? 0; top >= 1; ) {
      const batch = db.blocks.encodedDown(top, 256);
      if (batch.length === 0) {
        top -= 1;
        continue;
      }
      batch.forEach((encoded, at) => {
        const height = top - at;
        const { block, ids } = decodeBlockParts(encoded);
        blocks.set(height, { hash: toHex(blockHash(block.header)), appHash: toHex(block.header.appHash) });
        ids.forEach((raw, index) => {
          const id = toHex(raw);
          counts.set(id, (counts.get(id) ?? 0) + 1);
          // Newest first: the last write is the first occurrence.
          txs.set(id, { height, result: block.results[index] as TxResult });
        });
      });
      top -= batch.length;
    }
  } finally {
    db.close();
  }
  return { blocks, counts, txs };
}

const problems_max = 20;

/** Judges `history` against the chains of every node. */
export function check(history: readonly Op[], chains: readonly ChainDump[]): CheckResult {
  const problems: string[] = [];
  const note = (problem: string): void => {
    if (problems.length < problems_max) problems.push(problem);
  };
  const acked = history.filter((op) => op.outcome === "ok");
  let lost = 0;
  let duplicated = 0;
  let heightMismatches = 0;
  for (const op of acked) {
    let missing = false;
    chains.forEach((chain, node) => {
      const count = chain.counts.get(op.id) ?? 0;
      if (count === 0) missing = true;
      if (count > 1) {
        duplicated += 1;
        note(`node ${node}: ${op.kind} ${op.id} is in the chain ${count} times`);
      }
      const at = chain.txs.get(op.id);
      if (at !== undefined && at.height !== op.height) {
        heightMismatches += 1;
        note(`node ${node}: ${op.id} acknowledged at height ${op.height}, in the chain at ${at.height}`);
      }
    });
    if (missing) {
      lost += 1;
      note(`acknowledged ${op.kind} ${op.id} (node ${op.node}, height ${op.height}) is missing on some node`);
    }
  }
  // Duplicates of transactions that were not acknowledged count too.
  const ackedIds = new Set(acked.map((op) => op.id));
  chains.forEach((chain, node) => {
    for (const [id, count] of chain.counts) {
      if (count > 1 && !ackedIds.has(id)) {
        duplicated += 1;
        note(`node ${node}: ${id} is in the chain ${count} times`);
      }
    }
  });
  let divergent = 0;
  let appMismatches = 0;
  const top = Math.max(0, ...chains.map((chain) => chain.blocks.size));
  for (let height = 1; height <= top; height++) {
    const present = chains.flatMap((chain) => {
      const block = chain.blocks.get(height);
      return block === undefined ? [] : [block];
    });
    if (new Set(present.map((block) => block.hash)).size > 1) {
      divergent += 1;
      note(`height ${height}: nodes hold different blocks`);
    }
    if (new Set(present.map((block) => block.appHash)).size > 1) {
      appMismatches += 1;
      note(`height ${height}: app hashes differ`);
    }
  }
  let replayFailures = 0;
  chains.forEach((chain, node) => {
    if (!chain.verified.ok) {
      replayFailures += 1;
      note(`node ${node}: verifyChain fails at ${chain.verified.problem}`);
    }
  });
  const reference = chains[0];
  let decisionMismatches = 0;
  let revokeViolations = 0;
  if (reference !== undefined) {
    for (const op of acked) {
      if (op.kind !== "access") continue;
      const committed = reference.txs.get(op.id)?.result;
      if (committed !== undefined && committed.decision !== op.decision) {
        decisionMismatches += 1;
        note(`access ${op.id}: acknowledged as ${op.decision}, committed as ${committed.decision}`);
      }
    }
    // The earliest acknowledged revoke of each consent: an access invoked after it must not cite it.
    const firstRevoke = new Map<string, Op>();
    for (const op of acked) {
      if (op.kind !== "revoke" || op.code !== "ok" || op.consent === undefined) continue;
      const earlier = firstRevoke.get(op.consent);
      if (earlier === undefined || op.completedAt < earlier.completedAt) firstRevoke.set(op.consent, op);
    }
    for (const op of history) {
      if (op.kind !== "access") continue;
      const committed = reference.txs.get(op.id)?.result;
      if (committed === undefined || committed.cites === undefined || committed.decision !== "permitted")
        continue;
      const cites = toHex(committed.cites);
      const revoke = firstRevoke.get(cites);
      if (revoke !== undefined && revoke.completedAt < op.invokedAt) {
        revokeViolations += 1;
        note(
          `access ${op.id} invoked after revoke ${revoke.id} was acknowledged is permitted by consent ${cites}`,
        );
      }
    }
  }
  return {
    acked: acked.length,
    lost_acked: lost,
    duplicated,
    divergent_heights: divergent,
    app_hash_mismatches: appMismatches,
    replay_failures: replayFailures,
    acked_height_mismatches: heightMismatches,
    decision_mismatches: decisionMismatches,
    revoke_violations: revokeViolations,
    heights: chains.map((chain) => chain.blocks.size),
    problems,
  };
}
