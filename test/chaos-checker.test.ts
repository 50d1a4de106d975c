// Goal: the chaos checker catches what it is there to catch: an acknowledged transaction missing on a
// node or present twice, two blocks at one height, app hashes that differ, a failed replay, an access
// acknowledged with another decision than committed, and an access invoked after a revoke was
// acknowledged that the revoked consent still permitted; and it passes a clean history.
// Method: check() over a synthetic history and synthetic chain dumps (no nodes).
import type { TxResult } from "@medledger/protocol";
import { describe, expect, it } from "vitest";
import { type ChainDump, check } from "./chaos/checker.js";
import type { Op } from "./chaos/workload.js";

const CONSENT = "c0".repeat(32);
const ok: TxResult = { status: "ok", code: "ok" };
const permitted = (cites: string): TxResult => ({
  status: "ok",
  code: "ok",
  decision: "permitted",
  cites: Uint8Array.from(Buffer.from(cites, "hex")),
});

function op(id: string, kind: Op["kind"], height: number, at: number, extra: Partial<Op> = {}): Op {
  return {
    id,
    kind,
    node: 0,
    patient: "p",
    provider: "d",
    invokedAt: at,
    completedAt: at + 5,
    outcome: "ok",
    height,
    code: "ok",
    ...extra,
  };
}

/** A chain holding `txs` (id, height, result), one block per height, hashes named after the height. */
function chain(txs: Array<[string, number, TxResult]>, hashOf = (height: number) => `h${height}`): ChainDump {
  const dump: ChainDump = {
    blocks: new Map(),
    counts: new Map(),
    txs: new Map(),
    verified: { ok: true, problem: "" },
  };
  for (const [id, height, result] of txs) {
    dump.blocks.set(height, { hash: hashOf(height), appHash: `a${height}` });
    dump.counts.set(id, (dump.counts.get(id) ?? 0) + 1);
    if (!dump.txs.has(id)) dump.txs.set(id, { height, result });
  }
  return dump;
}

const grant = op("g1", "grant", 1, 0);
const revoke = op("r1", "revoke", 2, 10, { consent: CONSENT });
const before = op("x1", "access", 3, 8, { decision: "permitted", cites: CONSENT });
const committed: Array<[string, number, TxResult]> = [
  ["g1", 1, ok],
  ["r1", 2, ok],
  ["x1", 3, permitted(CONSENT)],
];

describe("the chaos checker", () => {
  it("passes a clean history", () => {
    const result = check([grant, revoke, before], [chain(committed), chain(committed), chain(committed)]);
    expect(result.problems).toEqual([]);
    expect(result).toMatchObject({ acked: 3, lost_acked: 0, duplicated: 0, divergent_heights: 0 });
  });

  it("counts an acknowledged transaction missing on one node as lost, and one held twice as duplicated", () => {
    const result = check(
      [grant, revoke, before],
      [chain(committed), chain(committed.slice(1)), chain([...committed, ["r1", 4, ok]])],
    );
    expect(result.lost_acked).toBe(1);
    expect(result.duplicated).toBe(1);
  });

  it("counts divergent blocks, differing app hashes and failed replays", () => {
    const forked = chain(committed, (height) => (height === 2 ? "fork" : `h${height}`));
    (forked.blocks.get(3) as { appHash: string }).appHash = "other";
    forked.verified = { ok: false, problem: "3: app hash" };
    const result = check([grant, revoke, before], [chain(committed), forked]);
    expect(result.divergent_heights).toBe(1);
    expect(result.app_hash_mismatches).toBe(1);
    expect(result.replay_failures).toBe(1);
  });

  it("finds an access permitted by a consent whose revoke was acknowledged before the access was invoked", () => {
    const after = op("x2", "access", 4, 20, { decision: "permitted", cites: CONSENT });
    const txs: Array<[string, number, TxResult]> = [...committed, ["x2", 4, permitted(CONSENT)]];
    const result = check([grant, revoke, before, after], [chain(txs)]);
    expect(result.revoke_violations).toBe(1);
    expect(result.problems.join("\n")).toMatch(/x2 invoked after revoke r1/);
  });

  it("finds an access acknowledged with another decision than the one committed", () => {
    const denied = { ...before, decision: "denied" as const };
    expect(check([grant, revoke, denied], [chain(committed)]).decision_mismatches).toBe(1);
  });
});
