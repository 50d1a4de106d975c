// Goal: MemoryStateStore answers the typed queries deterministically, pages with stable cursors,
// never aliases rows, and prunes replay ids by time. Method: direct calls on a fresh store.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isProtocolError } from "../src/errors.js";
import { state_page_max } from "../src/limits.js";
import { type AuditRow, type ConsentRow, MemoryStateStore } from "../src/state.js";
import { did, hashOf } from "./rules-fixtures.js";

const patient = did("pa");
const provider = did("p0");

function audit(height: number, txIndex: number): AuditRow {
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

describe("MemoryStateStore", () => {
  it("pages the audit trail in position order with a cursor", () => {
    const store = new MemoryStateStore();
    for (let height = 1; height <= 3; height++)
      for (let index = 0; index < 2; index++) store.putAudit(audit(height, index));
    const first = store.auditOfPatient(patient, { limit: 4 });
    expect(first.items.map((row) => [row.height, row.txIndex])).toEqual([
      [1, 0],
      [1, 1],
      [2, 0],
      [2, 1],
    ]);
    expect(first.next).toEqual({ height: 2, txIndex: 1 });
    const second = store.auditOfPatient(patient, { limit: 4, ...(first.next ? { after: first.next } : {}) });
    expect(second.items.map((row) => [row.height, row.txIndex])).toEqual([
      [3, 0],
      [3, 1],
    ]);
    expect(second.next).toBeNull();
    expect(store.auditOfPatient(did("other"), { limit: 1 })).toEqual({ items: [], next: null });
  });

  it("refuses out-of-order audit appends and bad page sizes", () => {
    const store = new MemoryStateStore();
    store.putAudit(audit(2, 0));
    expect(() => store.putAudit(audit(1, 0))).toThrowError(
      expect.objectContaining({ code: "STATE_INVARIANT" }),
    );
    for (const limit of [0, state_page_max + 1, 1.5]) {
      try {
        store.auditOfPatient(patient, { limit });
        expect.unreachable();
      } catch (error) {
        expect(isProtocolError(error) && error.code).toBe("FIELD_INVALID");
      }
    }
  });

  it("splits consents into live (grant order) and ended (newest first)", () => {
    const store = new MemoryStateStore();
    store.putConsent(consent(1));
    store.putConsent(consent(2, { revokedAt: 5 }));
    store.putConsent(consent(3, { expires: 10 }));
    store.putConsent(consent(4, { grantee: did("m0") }));
    const query = { patient, grantees: [provider], time: 20, limit: 10 };
    expect(store.liveConsents(query).map((row) => row.height)).toEqual([1]);
    expect(store.endedConsents(query).map((row) => row.height)).toEqual([3, 2]);
    expect(
      store.liveConsents({ ...query, grantees: [provider, did("m0")] }).map((row) => row.height),
    ).toEqual([1, 4]);
    expect(store.consentsOfPatient(patient, { limit: 10 }).items).toHaveLength(4);
    store.putConsent(consent(1, { revokedAt: 30 }));
    expect(store.consentsOfPatient(patient, { limit: 10 }).items).toHaveLength(4);
  });

  it("copies rows in and out", () => {
    const store = new MemoryStateStore();
    const row = consent(1);
    store.putConsent(row);
    row.categories.push("notes");
    const read = store.getConsent(row.id);
    expect(read?.categories).toEqual(["labs"]);
    read?.categories.push("imaging");
    expect(store.getConsent(row.id)?.categories).toEqual(["labs"]);
  });

  it("finds active and latest break-glasses", () => {
    const store = new MemoryStateStore();
    const base = { provider, patient, reason: "ER", txIndex: 0 };
    store.putEmergency({ ...base, id: hashOf("e1"), from: 0, until: 10, height: 1 });
    store.putEmergency({ ...base, id: hashOf("e2"), from: 20, until: 30, height: 2 });
    expect(
      store.activeEmergencies({ patient, provider, time: 25, limit: 5 }).map((row) => row.height),
    ).toEqual([2]);
    expect(store.activeEmergencies({ patient, provider, time: 15, limit: 5 })).toEqual([]);
    expect(store.latestEmergency(patient, provider)?.height).toBe(2);
    expect(store.latestEmergency(patient, did("p9"))).toBeNull();
    expect(store.emergenciesOfPatient(patient, { limit: 1 }).next).toEqual({ height: 1, txIndex: 0 });
  });

  it("prunes seen ids whose expiry is before the time", () => {
    const store = new MemoryStateStore();
    store.putSeen(hashOf("a"), 10);
    store.putSeen(hashOf("b"), 20);
    expect(store.pruneSeen(10)).toBe(0);
    expect(store.pruneSeen(11)).toBe(1);
    expect(store.hasSeen(hashOf("a"))).toBe(false);
    expect(store.hasSeen(hashOf("b"))).toBe(true);
  });

  it("keeps members ordered by DID and counts them", () => {
    const store = new MemoryStateStore();
    const dids = [did("m2"), did("m0"), did("m1")];
    for (const member of dids) store.putMember({ did: member, nodes: [], admittedHeight: 0 });
    expect(store.listMembers().map((row) => row.did)).toEqual([...dids].sort());
    store.deleteMember(did("m0"));
    expect(store.countMembers()).toBe(2);
  });
});

describe("MemoryStateStore against the naive definitions (random operations)", () => {
  it("prunes exactly the ids expired before the time, counting each once, whatever the order", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ put: fc.nat(40), expires: fc.integer({ min: 0, max: 100 }) }),
            fc.record({ prune: fc.integer({ min: 0, max: 110 }) }),
          ),
          { maxLength: 200 },
        ),
        (ops) => {
          const store = new MemoryStateStore();
          const naive = new Map<number, number>();
          for (const op of ops) {
            if ("put" in op) {
              store.putSeen(hashOf(`seen-${op.put}`), op.expires);
              naive.set(op.put, op.expires);
              continue;
            }
            let expected = 0;
            for (const [id, expires] of naive) {
              if (expires < op.prune) {
                naive.delete(id);
                expected++;
              }
            }
            expect(store.pruneSeen(op.prune)).toBe(expected);
            expect(store.clone().pruneSeen(op.prune)).toBe(0);
          }
          expect(store.seenCount()).toBe(naive.size);
          for (let id = 0; id <= 40; id++) expect(store.hasSeen(hashOf(`seen-${id}`))).toBe(naive.has(id));
        },
      ),
    );
  });

  it("lists live and ended consents as filtering every consent in grant order would", () => {
    const grantees = [did("p0"), did("p1"), did("p2")];
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            grantee: fc.nat(2),
            expires: fc.integer({ min: 1, max: 20 }),
            revoked: fc.boolean(),
          }),
          { maxLength: 60 },
        ),
        fc.integer({ min: 0, max: 21 }),
        fc.integer({ min: 1, max: 10 }),
        fc.subarray([0, 1, 2], { minLength: 1 }),
        (rows, time, limit, asked) => {
          const store = new MemoryStateStore();
          const all = rows.map((row, index) =>
            consent(index, {
              grantee: grantees[row.grantee] as string,
              expires: row.expires,
              revokedAt: row.revoked ? 0 : null,
            }),
          );
          // Granted first, revoked later (a second put), as the rules do.
          for (const row of all) store.putConsent({ ...row, revokedAt: null });
          for (const row of all) if (row.revokedAt !== null) store.putConsent(row);
          const query = { patient, grantees: asked.map((g) => grantees[g] as string), time, limit };
          const mine = all.filter((row) => row.patient === patient && query.grantees.includes(row.grantee));
          const live = mine.filter((row) => row.revokedAt === null && row.expires > time);
          const ended = mine.filter((row) => row.revokedAt !== null || row.expires <= time).reverse();
          expect(store.liveConsents(query)).toEqual(live.slice(0, limit));
          expect(store.endedConsents(query)).toEqual(ended.slice(0, limit));
        },
      ),
    );
  });
});
