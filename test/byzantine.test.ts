// Goal: a consortium member whose node turns byzantine cannot stop the honest majority: the honest nodes
// keep committing, agree on every block, keep every acknowledged transaction exactly once, never halt,
// and refuse, disconnect or ban the byzantine node. Method: three honest node processes and the
// byzantine node (test/chaos/byzantine-node.mjs: a genesis member, so the gater admits it, and one of the
// four Raft voters) over real TCP on 127.0.0.1; the chaos workload (grants, revokes, access logs through
// the honest nodes' HTTP API) runs while the byzantine node goes through every attack round the honest
// nodes survive (malformed frames and fields, forged senders, stale and bumped terms, blocks with bad
// signatures and roots, gossip floods, request floods, reconnect storms, hostile length prefixes).
// Afterwards the chaos checker reads every honest chain.db, and each honest node's log counters say what
// it did about the byzantine node.
//
// Between attacks the byzantine node is a lying follower (it acknowledges appends it never stores and
// grants every vote): with four voters a quorum is three, so its lies cannot commit anything the honest
// majority does not hold (any two quorums share two nodes, at least one honest), and it keeps the honest
// nodes live as a crashed fourth voter would not.
//
// The last tests are regression tests of bugs this suite found (test/chaos/README.md, "Bugs found"):
// each failed before its fix (they were written as `it.fails` first) and passes with it.

import { message, NO_NODE } from "@medledger/consensus";
import { encodeRaftMessage } from "@medledger/node";
import {
  type BlockHeader,
  blockHash,
  computeResultRoot,
  computeTxRoot,
  encodeBlock,
  type Signer,
  signBlockHeader,
} from "@medledger/protocol";
import { beforeAll, describe, expect, it } from "vitest";
import { Cluster, signerOf } from "../packages/node/test/ledger-harness.js";
import { type CheckResult, check, readChain } from "./chaos/checker.js";
import { ChaosCluster } from "./chaos/cluster.js";
import { closeAgents } from "./chaos/http.js";
import { type ByzantineEvidence, byzantineEvidence, survivable_rounds } from "./chaos/nemeses.js";
import { ackedPerWindow, converge, statusOf } from "./chaos/run.js";
import { type Op, sleep, Workload } from "./chaos/workload.js";

const round_ms = Number(process.env.MEDLEDGER_BYZANTINE_ROUND_MS ?? 2_500);
const seed = Number(process.env.MEDLEDGER_BYZANTINE_SEED ?? 11);
/** Rounds in which plain Raft loses its leader (a voter's higher term deposes it, again and again). */
const disruptive_rounds = new Set(["term-bump"]);
/** After a disruptive round the honest nodes commit again within this many seconds. */
const recovery_s = 5;

interface Run {
  rounds: Array<{ name: string; start: number; end: number; answer: Record<string, unknown> | null }>;
  history: Op[];
  result: CheckResult;
  converged: boolean;
  statuses: Array<Record<string, unknown> | null>;
  crashes: string[];
  evidence: Array<ByzantineEvidence | null>;
  /** Per honest node: messages it refused from another honest node (and hung up on it for). */
  honestBlamed: number[];
}

/** Three honest node processes and the byzantine node; the workload runs while every round is played once. */
async function attackRun(): Promise<Run> {
  const cluster = await ChaosCluster.create(3, `byz${seed}`, { forceProcess: true, byzantine: true });
  const rounds: Run["rounds"] = [];
  try {
    await cluster.startAll();
    await cluster.startByzantine(seed);
    const workload = new Workload(cluster, { seed, patients: 6 });
    await workload.setup(30_000);
    const running = workload.run({ workers: 8, rate: 25 });
    await sleep(1_500);
    for (const name of survivable_rounds) {
      const start = Date.now();
      const answer = await cluster.byzantineRound(name, round_ms);
      rounds.push({ name, start, end: Date.now(), answer });
    }
    await sleep(2_000);
    workload.stop();
    await running;
    const evidence = await byzantineEvidence(cluster);
    const honestSuffixes = new Set(cluster.nodeIds.map((did) => did.slice(-8)));
    const honestBlamed = await Promise.all(
      cluster.nodeIds.map(async (_, index) => {
        const counts = (await cluster.counters(index))?.counts ?? {};
        return Object.entries(counts)
          .filter(([key]) => key.startsWith("warn refused a message from a peer|"))
          .filter(([key]) => honestSuffixes.has(key.slice(key.lastIndexOf("|") + 1)))
          .reduce((total, [, count]) => total + count, 0);
      }),
    );
    const converged = await converge(cluster, 30_000);
    const statuses = await Promise.all(cluster.nodeIds.map((_, index) => statusOf(cluster, index)));
    await cluster.stopAll();
    closeAgents();
    const result = check(
      workload.history,
      cluster.dirs.map((dir) => readChain(dir, cluster.genesis)),
    );
    return {
      rounds,
      history: workload.history,
      result,
      converged,
      statuses,
      crashes: [...cluster.crashes],
      evidence,
      honestBlamed,
    };
  } finally {
    closeAgents();
    await cluster.destroy();
  }
}

describe("a byzantine member's node", () => {
  let run: Run;
  beforeAll(async () => {
    run = await attackRun();
    const { rounds, history, result } = run;
    const attackStart = (rounds[0] as { start: number }).start;
    const attackEnd = (rounds[rounds.length - 1] as { end: number }).end;
    console.log(
      JSON.stringify(
        {
          rounds: rounds.map(({ name, start, end, answer }) => ({
            name,
            acked: ackedPerWindow(history, start, end, end - start)[0] ?? 0,
            byzantine: answer,
          })),
          acked_per_5s: ackedPerWindow(history, attackStart, attackEnd, 5_000),
          evidence: run.evidence,
          honest_blamed: run.honestBlamed,
          statuses: run.statuses,
          result: { ...result, problems: result.problems.slice(0, 5) },
        },
        null,
        1,
      ),
    );
  }, 150_000);

  it("leaves every honest chain whole: each acknowledged transaction once, one block and app hash per height", () => {
    const { result } = run;
    expect(result.problems).toEqual([]);
    expect(result.acked).toBeGreaterThan(100);
    expect(result.lost_acked).toBe(0);
    expect(result.duplicated).toBe(0);
    expect(result.divergent_heights).toBe(0);
    expect(result.app_hash_mismatches).toBe(0);
    expect(result.replay_failures).toBe(0);
    expect(result.acked_height_mismatches).toBe(0);
    expect(run.converged).toBe(true);
  });

  it("halts or crashes no honest node", () => {
    expect(run.crashes).toEqual([]);
    for (const status of run.statuses) {
      expect(status).not.toBeNull();
      expect(status?.halted).toBeFalsy();
    }
    for (const node of run.evidence) expect(node?.halted).toBeNull();
  });

  it("keeps committing: every 5 s window of the attack commits, and after a term bump within 5 s", () => {
    const { rounds, history } = run;
    const attackStart = (rounds[0] as { start: number }).start;
    const attackEnd = (rounds[rounds.length - 1] as { end: number }).end;
    const windows = ackedPerWindow(history, attackStart, attackEnd, 5_000);
    expect(windows.length).toBeGreaterThan(3);
    windows.forEach((acked, slot) => {
      expect(acked, `acknowledged in the 5 s window from ${slot * 5} s`).toBeGreaterThan(0);
    });
    for (const round of rounds.filter((candidate) => disruptive_rounds.has(candidate.name))) {
      const after = ackedPerWindow(history, round.end, round.end + recovery_s * 1000, recovery_s * 1000);
      expect(after[0], `commits within ${recovery_s} s after ${round.name}`).toBeGreaterThan(0);
    }
  });

  it("refuses, disconnects and bans the byzantine node, and refuses its broken gossip", () => {
    for (const node of run.evidence as ByzantineEvidence[]) {
      expect(node.refused).toBeGreaterThan(0);
      expect(node.gossipRefused).toBeGreaterThan(0);
    }
    // Every honest node banned it once: the first for its malformed prefixes, the others for oversized.
    expect((run.evidence as ByzantineEvidence[]).every((node) => node.banned > 0)).toBe(true);
    const saw = (name: string, field: string): number =>
      Number(run.rounds.find((round) => round.name === name)?.answer?.[field] ?? 0);
    expect(saw("junk-frames", "disconnects")).toBeGreaterThan(0);
    expect(saw("bad-signature-block", "disconnects")).toBeGreaterThan(0);
    expect(saw("oversized-prefix", "dialRefused") + saw("malformed-prefix", "dialRefused")).toBeGreaterThan(
      0,
    );
  });

  // Bug (see test/chaos/README.md): junk the byzantine node gossips is accepted by every honest node's
  // topic validator and relayed; the ledger then blames the relaying honest node and hangs up on it.
  it("makes no honest node hang up on another honest node", () => {
    expect(run.honestBlamed).toEqual([0, 0, 0]);
  });
});

/** A signed block by `signer` that follows `previous` at Raft position (term, index), with `tamper`. */
function forgedBlock(
  cluster: Cluster,
  signer: Signer,
  term: number,
  index: number,
  tamper: "app-hash" | "prev",
): Uint8Array {
  const tip = cluster.node(0).committedBlock(cluster.node(0).status().height);
  const previous = tip?.block.header;
  const header: BlockHeader = {
    v: 1,
    chain: cluster.genesis.chain,
    height: (previous?.height ?? 0) + 1,
    prev: previous === undefined ? new Uint8Array(32) : blockHash(previous),
    time: cluster.clock.now(),
    proposer: signer.did,
    txRoot: computeTxRoot([]),
    resultRoot: computeResultRoot([]),
    appHash: previous?.appHash ?? new Uint8Array(32),
    raftTerm: term,
    raftIndex: index,
  };
  if (tamper === "app-hash") header.appHash = new Uint8Array(32).fill(7);
  else header.prev = new Uint8Array(32).fill(9);
  return encodeBlock({ header, sig: signBlockHeader(header, signer), txs: [], results: [] });
}

/**
 * Three honest LedgerNodes and a fourth voter (node 3, never started) whose frames the test forges: the
 * production driver on a simulated clock and wire (packages/node/test/ledger-harness.ts).
 */
function honestThreeOfFour(): { cluster: Cluster; byzantine: Signer; honest: number[] } {
  const cluster = new Cluster(4);
  const honest = [0, 1, 2];
  for (const index of honest) cluster.node(index).start();
  cluster.runUntil(() => honest.some((index) => cluster.node(index).status().role === "leader"));
  return { cluster, byzantine: cluster.nodeSigners[3] as Signer, honest };
}

/** Submits one transaction to every honest node and runs until all of them applied it; false if not. */
function commitsAgain(cluster: Cluster, honest: number[], limitMs: number): boolean {
  const patient = cluster.tx("patient.register", signerOf(`patient-${cluster.clock.now()}`), {});
  for (const index of honest) {
    try {
      cluster.node(index).submit(patient);
    } catch {
      // A halted node refuses.
    }
  }
  const before = honest.map((index) => cluster.node(index).status().height);
  try {
    cluster.runUntil(
      () => honest.every((index, at) => cluster.node(index).status().height > (before[at] as number)),
      limitMs,
    );
    return true;
  } catch {
    return false;
  }
}

describe("regressions found by the byzantine peer", () => {
  it("one heartbeat response with the largest term does not end elections for good", () => {
    const { cluster, byzantine, honest } = honestThreeOfFour();
    const leader = cluster.leader();
    expect(leader).not.toBeNull();
    cluster.hub.inject(
      byzantine.did,
      (leader as { id: string }).id,
      encodeRaftMessage(
        message({
          type: "heartbeatResp",
          from: byzantine.did,
          to: (leader as { id: string }).id,
          term: Number.MAX_SAFE_INTEGER,
        }),
      ),
    );
    for (let elapsed = 0; elapsed < 2_000; elapsed += 10) cluster.clock.advance(10);
    // Before the fix every honest node ended at term 2^53 - 1; each campaign then carried 2^53, which no
    // decoder accepts (not a safe integer), so no leader was ever elected again. Now the message is
    // refused (a term too far ahead) and the terms stay small.
    for (const index of honest) expect(cluster.node(index).status().term).toBeLessThan(1_000);
    const elected = (): boolean => {
      try {
        cluster.runUntil(() => cluster.leader() !== null, 30_000);
        return true;
      } catch {
        return false;
      }
    };
    expect(
      elected(),
      `terms ${honest.map((index) => cluster.node(index).status().term)}: a leader within 30 s`,
    ).toBe(true);
    expect(commitsAgain(cluster, honest, 30_000)).toBe(true);
    for (const index of honest) expect(cluster.node(index).haltedBy).toBeNull();
  });

  const cases = [
    { tamper: "app-hash", ahead: 0 },
    { tamper: "prev", ahead: 0 },
    { tamper: "app-hash", ahead: 1 },
  ] as const;
  for (const { tamper, ahead } of cases) {
    const at = ahead === 0 ? "its leader's term" : "the next term";
    it(`a voter's validly signed block with a wrong ${tamper}, at ${at}, halts no honest node`, () => {
      const { cluster, byzantine, honest } = honestThreeOfFour();
      const leader = cluster.leader() as { id: string };
      const follower = cluster.node(honest.find((index) => cluster.node(index).id !== leader.id) as number);
      const status = follower.status();
      expect(status.leader).toBe(leader.id);
      expect(status.leader).not.toBe(NO_NODE);
      // Right after an election the follower's log ends with the leader's empty entry of its term.
      const term = status.term + ahead;
      const index = status.commitIndex + 1;
      const block = forgedBlock(cluster, byzantine, term, index, tamper);
      cluster.hub.inject(
        byzantine.did,
        follower.id,
        encodeRaftMessage(
          message({
            type: "app",
            from: byzantine.did,
            to: follower.id,
            term,
            index: status.commitIndex,
            logTerm: status.term,
            entries: [{ term, index, type: "normal", data: block }],
            commit: index,
          }),
        ),
      );
      for (let elapsed = 0; elapsed < 1_000; elapsed += 10) cluster.clock.advance(10);
      // Today: the follower takes the byzantine voter for the leader (of the current term, or of the
      // next one although it hears a live leader), commits the forged block on its word and halts when
      // it applies it ("the app hash differs from ours" / "does not follow").
      for (const node of honest) expect(cluster.node(node).haltedBy?.message ?? null).toBeNull();
      expect(commitsAgain(cluster, honest, 30_000)).toBe(true);
    });
  }
});
