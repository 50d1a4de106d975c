// Goal: SqliteStateStore answers exactly like the protocol's MemoryStateStore (rows, nulls, bytes,
// arrays, orders, pages) and every query is served by an index. Method: random programs of
// transactions (fast-check, in the style of the protocol's determinism test) run through the real
// rules against both stores, comparing results, events, app hashes and every query; direct calls for
// ties, paging and pruning; EXPLAIN QUERY PLAN of every statement on tables with rows and statistics.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type AuditRow,
  applyBlock,
  type Block,
  type BlockHeader,
  type ConsentRow,
  type Did,
  MemoryStateStore,
  type StateStore,
  toHex,
} from "@medledger/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  buildTx,
  GUARDIANS,
  KEYS,
  MEMBERS,
  NEWCOMERS,
  PATIENTS,
  PROVIDERS,
  program,
  RECORDS,
} from "../../protocol/test/random-program.js";
import {
  CHAIN,
  DAY,
  did,
  genesisOf,
  HOUR,
  hashOf,
  makeTx,
  TestChain,
  type Tx,
} from "../../protocol/test/rules-fixtures.js";
import { type ChainDb, openChainDb } from "../src/storage/index.js";
import { STATE_SQL, type StateStatement } from "../src/storage/state-store.js";
import { genesisInto } from "./fixtures/storage-chain.js";

/** Every query of the StateStore interface over the program's actors, paged with small pages. */
function queries(store: StateStore, time: number, history: Tx[]): unknown {
  const everyone = [...MEMBERS, ...PROVIDERS, ...PATIENTS, ...GUARDIANS, ...KEYS, ...NEWCOMERS];
  const ids = history.map((tx) => tx.id);
  const pages = <T>(
    fetch: (page: { after?: { height: number; txIndex: number }; limit: number }) => {
      items: T[];
      next: { height: number; txIndex: number } | null;
    },
  ) => {
    const out: unknown[] = [];
    let page = fetch({ limit: 2 });
    out.push(page);
    for (let i = 0; page.next !== null && i < 200; i++) {
      page = fetch({ after: page.next, limit: 2 });
      out.push(page);
    }
    return out;
  };
  return {
    chain: store.getChain(),
    identities: everyone.map((x) => store.getIdentity(x)),
    keys: everyone.map((x) => store.getKeyOwner(x)),
    members: [store.listMembers(), store.countMembers(), everyone.map((x) => store.getMember(x))],
    patients: PATIENTS.map((x) => store.getPatient(x)),
    records: RECORDS.map((x) => store.getRecord(x)),
    byId: ids.map((id) => [
      store.getConsent(id),
      store.getEmergency(id),
      store.getProposal(id),
      store.hasSeen(id),
    ]),
    votes: ids.flatMap((id) => MEMBERS.map((m) => store.getVote(id, m))),
    perPatient: PATIENTS.map((patient) => ({
      audit: pages((page) => store.auditOfPatient(patient, page)),
      consents: pages((page) => store.consentsOfPatient(patient, page)),
      records: pages((page) => store.recordsOfPatient(patient, page)),
      emergencies: pages((page) => store.emergenciesOfPatient(patient, page)),
      live: [time - DAY, time, time + HOUR].map((t) =>
        store.liveConsents({
          patient,
          grantees: [PROVIDERS[0] as Did, MEMBERS[0] as Did],
          time: t,
          limit: 5,
        }),
      ),
      ended: [time, time + 2 * HOUR].map((t) =>
        store.endedConsents({
          patient,
          grantees: [PROVIDERS[1] as Did, MEMBERS[1] as Did],
          time: t,
          limit: 3,
        }),
      ),
      emergency: PROVIDERS.map((provider) => [
        store.activeEmergencies({ patient, provider, time, limit: 3 }),
        store.latestEmergency(patient, provider),
      ]),
    })),
  };
}

describe("SqliteStateStore conformance with MemoryStateStore", () => {
  it("gives identical results, events, app hashes and query answers for random programs (property)", () => {
    const codes = new Set<string>();
    fc.assert(
      fc.property(program, (blocks) => {
        const db = openChainDb({ path: ":memory:" });
        try {
          const a = new TestChain(genesisOf(3), new MemoryStateStore());
          const b = new TestChain(genesisOf(3), db.state);
          expect(toHex(b.appHash)).toBe(toHex(a.appHash));
          const history: Tx[] = [];
          const setup = [
            ...PROVIDERS.map((_p, index) => ({ kind: 0, a: index, b: index, c: 0, d: 0, flag: false })),
            ...PATIENTS.map((_p, index) => ({ kind: 2, a: 0, b: index, c: 0, d: 0, flag: false })),
          ];
          for (const block of [{ steps: setup, advanceMs: 0 }, ...blocks]) {
            const txs = block.steps.map((s) => buildTx(a, s, history));
            history.push(...txs);
            const outA = a.block(txs, block.advanceMs + 1);
            const outB = db.sqlite.transaction(() => b.block(txs, block.advanceMs + 1))();
            expect(toHex(outB.appHash)).toBe(toHex(outA.appHash));
            expect(outB.results).toEqual(outA.results);
            expect(outB.events).toEqual(outA.events);
            for (const result of outA.results) codes.add(result.code);
          }
          expect(queries(db.state, a.time, history)).toEqual(queries(a.store, a.time, history));
        } finally {
          db.close();
        }
      }),
      { numRuns: 100, seed: 20261121 },
    );
    for (const code of ["ok", "consent", "no-consent", "tx-replayed", "key-not-current", "emergency"]) {
      expect(codes).toContain(code);
    }
    expect(codes.size).toBeGreaterThan(20);
  });

  it("rolls a failed block back with its transaction", () => {
    const db = openChainDb({ path: ":memory:" });
    const chain = new TestChain(genesisOf(1), db.state);
    const before = db.state.getChain();
    const tx = makeTx(chain.time, "patient.register", did("pa"), {});
    const stale = {
      chain: "test-chain",
      height: 5,
      time: chain.time + 1,
      prevAppHash: chain.appHash,
      txs: [tx],
    };
    expect(() => db.sqlite.transaction(() => applyBlock(db.state, stale))()).toThrow();
    expect(db.state.getChain()).toEqual(before);
    expect(db.state.getPatient(did("pa"))).toBeNull();
    db.close();
  });
});

describe("SqliteStateStore read caches", () => {
  it("answer like MemoryStateStore through dry runs, rolled-back applies and commits (property)", () => {
    fc.assert(
      fc.property(program, (blocks) => {
        const db = openChainDb({ path: ":memory:" });
        try {
          const memory = new TestChain(genesisOf(3), new MemoryStateStore());
          genesisInto(db);
          const history: Tx[] = [];
          const setup = [
            ...PROVIDERS.map((_p, index) => ({ kind: 0, a: index, b: index, c: 0, d: 0, flag: false })),
            ...PATIENTS.map((_p, index) => ({ kind: 2, a: 0, b: index, c: 0, d: 0, flag: false })),
          ];
          let raftIndex = 0;
          for (const block of [{ steps: setup, advanceMs: 0 }, ...blocks]) {
            const txs = block.steps.map((s) => buildTx(memory, s, history));
            history.push(...txs);
            const advanceMs = block.advanceMs + 1;
            raftIndex += 1;
            // A leader's dry runs (this block, then another order), reading through the caches inside.
            for (const order of [txs, [...txs].reverse()]) {
              db.blocks.dryRun((state) => {
                applyBlock(state, blockInput(db, order, advanceMs));
                return queries(state, memory.time + advanceMs, history);
              });
            }
            // An apply that crashes after the rules wrote everything, then the real one.
            const built = blockOf(db, txs, advanceMs, raftIndex);
            const commit = (crash: boolean) =>
              db.blocks.applyCommittedBlock({
                block: built,
                encoded: new Uint8Array([0xa0]), // random bodies need not encode; the body is not read here
                raftIndex,
                ids: txs.map((tx) => tx.id),
                apply: (state) => {
                  const outcome = applyBlock(state, blockInput(db, txs, advanceMs));
                  if (crash) throw new Error("crash after the rules");
                  return outcome;
                },
              });
            expect(() => commit(true)).toThrow("crash after the rules");
            expect(queries(db.state, memory.time, history)).toEqual(
              queries(memory.store, memory.time, history),
            );
            const outB = commit(false);
            const outA = memory.block(txs, advanceMs);
            expect(outB.applied && outB.value.results).toEqual(outA.results);
            expect(queries(db.state, memory.time, history)).toEqual(
              queries(memory.store, memory.time, history),
            );
          }
        } finally {
          db.close();
        }
      }),
      { numRuns: 40, seed: 20261122 },
    );
  });
});

describe("SqliteStateStore read caches and other connections", () => {
  it("forget what they hold when another connection committed, at the next block", () => {
    const dir = mkdtempSync(join(tmpdir(), "medledger-cache-"));
    try {
      const path = join(dir, "chain.db");
      const node = openChainDb({ path });
      genesisInto(node);
      const other = openChainDb({ path });
      const member = did("m0");
      const before = node.state.getIdentity(member);
      expect(before?.status).toBe("active");
      other.state.putIdentity({ ...(before as NonNullable<typeof before>), status: "suspended" });
      node.blocks.dryRun((state) => expect(state.getIdentity(member)?.status).toBe("suspended"));
      expect(node.state.getIdentity(member)?.status).toBe("suspended");
      other.close();
      node.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The next block of `txs` on `db` (its app hash from a dry run; no Merkle roots: random bodies need not encode). */
function blockOf(db: ChainDb, txs: Tx[], advanceMs: number, raftIndex: number): Block {
  const tip = db.blocks.tip();
  if (tip === null) throw new Error("no genesis");
  const input = blockInput(db, txs, advanceMs);
  const outcome = db.blocks.dryRun((state) => applyBlock(state, input));
  const header: BlockHeader = {
    v: 1,
    chain: CHAIN,
    height: input.height,
    prev: tip.blockHash,
    time: input.time,
    proposer: did("m0-node"),
    txRoot: new Uint8Array(32),
    resultRoot: new Uint8Array(32),
    appHash: outcome.appHash,
    raftTerm: 1,
    raftIndex,
  };
  return { header, sig: new Uint8Array(64), txs: txs.map((tx) => tx.signed), results: outcome.results };
}

/** The BlockInput of `txs` on top of `db`'s tip, `advanceMs` after its time. */
function blockInput(db: ChainDb, txs: Tx[], advanceMs: number) {
  const tip = db.blocks.tip();
  const chain = db.state.getChain();
  if (tip === null || chain === null) throw new Error("no genesis");
  return {
    chain: CHAIN,
    height: tip.height + 1,
    time: chain.time + advanceMs,
    prevAppHash: tip.appHash,
    txs,
  };
}

describe("SqliteStateStore rows and pages", () => {
  const patient = did("pa");
  const provider = did("p0");

  function audit(height: number, txIndex: number, overrides: Partial<AuditRow> = {}): AuditRow {
    return {
      tx: hashOf(`a${height}.${txIndex}`),
      height,
      txIndex,
      time: height * 1000,
      provider,
      patient,
      category: "labs",
      record: null,
      purpose: "TREAT",
      decision: "denied",
      code: "no-consent",
      cites: null,
      flagged: true,
      ...overrides,
    };
  }

  function consent(index: number, overrides: Partial<ConsentRow> = {}): ConsentRow {
    return {
      id: hashOf(`c${index}`),
      patient,
      grantee: provider,
      categories: ["labs"],
      records: [],
      purposes: ["TREAT"],
      notBefore: 0,
      expires: 100,
      revokedAt: null,
      height: index,
      txIndex: 0,
      ...overrides,
    };
  }

  it("round-trips rows exactly: plain Uint8Arrays, nulls, booleans, arrays", () => {
    const db = openChainDb({ path: ":memory:" });
    const memory = new MemoryStateStore();
    for (const store of [db.state, memory] as StateStore[]) {
      store.putAudit(
        audit(1, 0, { record: "r1", cites: hashOf("c"), flagged: false, decision: "permitted" }),
      );
      store.putAudit(audit(1, 1));
      store.putConsent(consent(1, { records: ["r1", "r2"], categories: [], revokedAt: 50 }));
      store.putPatient({ did: patient, guardians: [], threshold: 0, emergencyScope: null });
      store.putPatient({ did: provider, guardians: [patient], threshold: 1, emergencyScope: [] });
      store.putIdentity({
        did: patient,
        role: "patient",
        key: patient,
        member: null,
        status: "active",
        licenseHash: null,
      });
    }
    const page = { limit: 10 };
    const rows = db.state.auditOfPatient(patient, page).items;
    expect(rows).toEqual(memory.auditOfPatient(patient, page).items);
    expect(Object.getPrototypeOf(rows[0]?.tx)).toBe(Uint8Array.prototype);
    expect(Object.getPrototypeOf(rows[0]?.cites)).toBe(Uint8Array.prototype);
    expect(rows[1]?.cites).toBeNull();
    expect(db.state.getConsent(hashOf("c1"))).toStrictEqual(memory.getConsent(hashOf("c1")));
    expect(db.state.getPatient(patient)).toStrictEqual(memory.getPatient(patient));
    expect(db.state.getPatient(provider)).toStrictEqual(memory.getPatient(provider));
    expect(db.state.getIdentity(patient)).toStrictEqual(memory.getIdentity(patient));
    db.close();
  });

  it("pages with the same cursors, keeps insertion order among equal positions, refuses bad limits", () => {
    const db = openChainDb({ path: ":memory:" });
    const memory = new MemoryStateStore();
    for (const store of [db.state, memory] as StateStore[]) {
      for (let i = 0; i < 7; i++)
        store.putConsent(consent(i, { height: 3, txIndex: 0, grantee: did(`g${i % 2}`) }));
      for (let i = 0; i < 5; i++)
        store.putConsent(consent(10 + i, { height: 4 + i, revokedAt: i % 2 === 0 ? 1 : null }));
      store.putConsent(consent(2, { height: 3, txIndex: 0, grantee: did("g0"), revokedAt: 9 })); // an update keeps its place
    }
    const read = (store: StateStore) => {
      const out: unknown[] = [];
      let page = store.consentsOfPatient(patient, { limit: 3 });
      out.push(page);
      while (page.next !== null) {
        page = store.consentsOfPatient(patient, { after: page.next, limit: 3 });
        out.push(page);
      }
      const grantees = [did("g0"), did("g1"), provider];
      out.push(store.liveConsents({ patient, grantees, time: 5, limit: 20 }));
      out.push(store.endedConsents({ patient, grantees, time: 5, limit: 20 }));
      return out;
    };
    expect(read(db.state)).toEqual(read(memory));
    for (const limit of [0, 501, 1.5]) {
      expect(() => db.state.auditOfPatient(patient, { limit })).toThrow(
        expect.objectContaining({ code: "FIELD_INVALID" }),
      );
    }
    db.close();
  });

  it("refuses audit entries out of order, like MemoryStateStore", () => {
    const db = openChainDb({ path: ":memory:" });
    db.state.putAudit(audit(2, 1));
    expect(() => db.state.putAudit(audit(2, 1))).toThrow(
      expect.objectContaining({ code: "STATE_INVARIANT" }),
    );
    expect(() => db.state.putAudit(audit(1, 5))).toThrow(
      expect.objectContaining({ code: "STATE_INVARIANT" }),
    );
    db.close();
  });

  it("prunes replay ids that expired before the time, and counts them", () => {
    const db = openChainDb({ path: ":memory:" });
    for (let i = 0; i < 10; i++) db.state.putSeen(hashOf(`s${i}`), i * 10);
    db.state.putSeen(hashOf("s0"), 95); // an update moves the expiry
    expect(db.state.pruneSeen(50)).toBe(4);
    expect(db.state.hasSeen(hashOf("s0"))).toBe(true);
    expect(db.state.hasSeen(hashOf("s4"))).toBe(false);
    expect(db.state.hasSeen(hashOf("s5"))).toBe(true);
    db.close();
  });
});

describe("query plans", () => {
  const BIG_TABLES = ["audit", "consents", "records", "seen", "emergencies"];

  it("serves every state statement from an index (no full scan of a big table)", () => {
    const db = openChainDb({ path: ":memory:" });
    const store = db.state;
    // Rows and statistics, so the planner chooses as it would on a real node.
    db.sqlite.transaction(() => {
      for (let i = 0; i < 2000; i++) {
        const patient = did(`x${i % 40}`);
        store.putSeen(hashOf(`seen${i}`), i);
        store.putAudit({
          tx: hashOf(`t${i}`),
          height: i,
          txIndex: 0,
          time: i,
          provider: did("p0"),
          patient,
          category: "labs",
          record: null,
          purpose: "TREAT",
          decision: "denied",
          code: "no-consent",
          cites: null,
          flagged: true,
        });
      }
    })();
    db.sqlite.exec("ANALYZE");
    const params: Partial<Record<StateStatement, unknown[]>> = {
      liveConsents: ["p", '["a","b"]', 1, 5],
      endedConsents: ["p", '["a"]', 1, 5],
      activeEmergencies: ["p", "q", 1, 1, 1],
    };
    const plans: Record<string, string[]> = {};
    for (const [name, sql] of Object.entries(STATE_SQL)) {
      if (!/^\s*(SELECT|DELETE|UPDATE)/i.test(sql)) continue;
      const count = (sql.match(/\?/g) ?? []).length;
      const args =
        params[name as StateStatement] ?? Array.from({ length: count }, (_, i) => (i === 0 ? "x" : 1));
      const rows = db.sqlite.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as Array<{ detail: string }>;
      plans[name] = rows.map((row) => row.detail);
    }
    if (process.env.PRINT_PLANS) console.log(plans);
    for (const [name, details] of Object.entries(plans)) {
      for (const detail of details) {
        for (const table of BIG_TABLES) {
          // "SCAN t" is a full scan; "SEARCH t USING INDEX" and "SCAN t USING COVERING INDEX" of a range are fine.
          const fullScan = new RegExp(`^SCAN ${table}(?! USING (COVERING )?INDEX)`).test(detail);
          expect(fullScan, `${name}: ${detail}`).toBe(false);
        }
        expect(
          /USE TEMP B-TREE FOR ORDER BY/.test(detail) && name.endsWith("OfPatient"),
          `${name}: ${detail}`,
        ).toBe(false);
      }
    }
    expect(plans.auditOfPatient?.join(" ")).toMatch(/SEARCH audit USING INDEX audit_by_patient/);
    expect(plans.pruneSeen?.join(" ")).toMatch(/SEARCH seen USING (COVERING )?INDEX seen_by_expires/);
    expect(plans.liveConsents?.join(" ")).toMatch(/SEARCH consents USING INDEX consents_by_grantee/);
    expect(plans.allConsents?.join(" ")).toMatch(/SEARCH consents USING INDEX consents_by_patient/);
    expect(plans.allConsents?.join(" ")).not.toMatch(/TEMP B-TREE/);
    expect(plans.hasSeen?.join(" ")).toMatch(/SEARCH seen USING PRIMARY KEY/);
    db.close();
  });
});
