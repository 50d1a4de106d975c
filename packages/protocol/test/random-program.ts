// Random programs of transactions for property tests of the rules and of every StateStore: a few
// actors, a step arbitrary that picks a kind and its actors, and buildTx that turns a step into a
// transaction at the chain's time. Shared by the protocol's determinism test and the node's SQLite
// state store test.
import fc from "fast-check";
import type { Did, Hash, TxBodies, TxKind } from "../src/types.js";
import { CATEGORIES } from "../src/vocabulary.js";
import { DAY, did, HOUR, hashOf, makeTx, type TestChain, type Tx } from "./rules-fixtures.js";

export const MEMBERS = [did("m0"), did("m1"), did("m2")];
export const PROVIDERS = [did("p0"), did("p1"), did("p2")];
export const PATIENTS = [did("pa"), did("pb")];
export const GUARDIANS = [did("g0"), did("g1"), did("g2")];
export const KEYS = [did("k0"), did("k1"), did("k2"), did("k3")];
export const RECORDS = ["r0", "r1", "r2", "r3"];
export const NEWCOMERS = [did("m3"), did("m4")];
/** Few categories and purposes, so that random grants and accesses often meet. */
export const SOME_CATEGORIES = ["labs", "notes", "mental-health"] as const;
export const SOME_PURPOSES = ["TREAT", "ETREAT"] as const;

/** One random step of a program: a kind and small numbers that pick its actors and body. */
export const step = fc.record({
  kind: fc.integer({ min: 0, max: 15 }),
  a: fc.nat(7),
  b: fc.nat(7),
  c: fc.nat(12),
  d: fc.nat(5),
  flag: fc.boolean(),
});
export type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

export const program = fc.array(
  fc.record({ steps: fc.array(step, { maxLength: 12 }), advanceMs: fc.constantFrom(0, 1000, HOUR, DAY) }),
  { minLength: 1, maxLength: 12 },
);

function pick<T>(list: readonly T[], index: number): T {
  return list[index % list.length] as T;
}

/** Builds the transaction of `s` at the chain's time, signing with the signer's current key. */
export function buildTx(chain: TestChain, s: Step, history: Tx[]): Tx {
  const time = chain.time + 1;
  const keyOf = (signer: Did) => chain.store.getIdentity(signer)?.key ?? signer;
  const make = <K extends TxKind>(kind: K, signer: Did, body: TxBodies[K], cosigners: Did[] = []) =>
    makeTx(time, kind, signer, body, {
      key: keyOf(signer),
      cosigners: cosigners.map((cosigner) => [cosigner, keyOf(cosigner)] as [Did, Did]),
    });
  const member = pick(MEMBERS, s.a);
  const provider = pick(PROVIDERS, s.a);
  const patient = pick(PATIENTS, s.b);
  const category = pick(SOME_CATEGORIES, s.c);
  const purpose = pick(SOME_PURPOSES, s.d);
  const earlier = (kind: TxKind): Hash =>
    pick(
      history.filter((tx) => tx.signed.tx.kind === kind),
      s.c,
    )?.id ?? hashOf("none");
  switch (s.kind) {
    case 0:
      return make("provider.register", member, {
        provider: pick(PROVIDERS, s.b),
        licenseHash: hashOf(`l${s.c}`),
      });
    case 1:
      return make("provider.suspend", member, { provider: pick(PROVIDERS, s.b), reason: "review" });
    case 2:
      return make("patient.register", patient, {});
    case 3:
      return make("patient.set-guardians", patient, {
        guardians: GUARDIANS.slice(0, 1 + (s.c % 3)),
        threshold: 1 + (s.d % 2),
      });
    case 4:
      return make("patient.set-emergency-scope", patient, {
        categories: [category, pick(CATEGORIES, s.c + 9)],
      });
    case 5:
      return make("key.rotate", s.flag ? patient : provider, { newKey: pick(KEYS, s.c) });
    case 6:
      return make(
        "key.recover",
        pick(GUARDIANS, s.a),
        { patient, newKey: pick(KEYS, s.c) },
        s.flag ? [pick(GUARDIANS, s.a + 1)] : [],
      );
    case 7:
      return make("record.anchor", provider, {
        record: pick(RECORDS, s.c),
        patient,
        category,
        format: "Observation",
        contentHash: hashOf(`c${s.c}`),
      });
    case 8:
      return make("consent.grant", patient, {
        grantee: s.flag ? member : provider,
        categories: s.d === 0 ? [] : SOME_CATEGORIES.slice(0, 1 + (s.c % 3)),
        records: s.d === 0 ? [pick(RECORDS, s.c)] : [],
        purposes: s.d % 2 === 1 ? [...SOME_PURPOSES] : [purpose],
        notBefore: time + (s.a % 2) * HOUR,
        expires: time + (1 + s.b) * HOUR,
      });
    case 9:
      return make("consent.revoke", patient, { consent: earlier("consent.grant") });
    case 10:
    case 11:
      return make("access.log", provider, {
        patient,
        category,
        purpose: s.flag ? "ETREAT" : purpose,
        ...(s.d === 0 ? { record: pick(RECORDS, s.c) } : {}),
      });
    case 12:
      return make("emergency.declare", provider, { patient, reason: "ER", durationMs: (1 + s.b) * HOUR });
    case 13:
      return make("record.erase", patient, { record: pick(RECORDS, s.c) });
    case 14:
      return s.flag
        ? make("member.vote", member, { proposal: earlier("member.propose"), approve: s.d !== 0 })
        : make("member.propose", member, {
            action: s.d % 3 === 0 ? "remove" : "add",
            member: s.d % 3 === 0 ? pick(MEMBERS, s.b) : pick(NEWCOMERS, s.b),
            nodes: s.d % 3 === 0 ? [] : [did(`node-${s.b % 2}`)],
            deadline: time + DAY,
          });
    default:
      return pick(history, s.c) ?? make("patient.register", patient, {});
  }
}
