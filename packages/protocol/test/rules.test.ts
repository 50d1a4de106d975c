// Goal: the state-transition rules give the decisions and reason codes docs/DESIGN.md asks for.
// Method: scenarios on a small chain (one member, two providers, one patient) driven block by block
// through applyBlock; SignedTx objects are built directly because the rules do not verify signatures.
import { describe, expect, it } from "vitest";
import { base58Encode, DID_KEY_PREFIX } from "../src/did.js";
import { emergency_duration_default_ms, tx_ttl_max_ms } from "../src/limits.js";
import { checkAccess, checkSignerKeys, REASON_CODES } from "../src/rules.js";
import type { AccessLogBody, Did } from "../src/types.js";
import { CHAIN, clinic, DAY, did, HOUR, hashOf, makeTx, TestChain, type Tx } from "./rules-fixtures.js";

function setup() {
  const world = clinic();
  const { chain, patient } = world;
  const grant = (body: Partial<Parameters<typeof chain.tx<"consent.grant">>[2]> = {}) =>
    chain.tx("consent.grant", patient, {
      grantee: world.provider,
      categories: ["labs"],
      records: [],
      purposes: ["TREAT"],
      notBefore: chain.time,
      expires: chain.time + 30 * DAY,
      ...body,
    });
  const access = (body: Partial<AccessLogBody> = {}, signer = world.provider) =>
    chain.tx("access.log", signer, { patient, category: "labs", purpose: "TREAT", ...body } as AccessLogBody);
  const audit = () => chain.store.auditOfPatient(patient, { limit: 100 }).items;
  return { ...world, grant, access, audit };
}

describe("access decisions", () => {
  it("permits an access covered by a consent, citing it", () => {
    const { chain, grant, access, audit } = setup();
    const consent = grant();
    expect(chain.run(consent).status).toBe("ok");
    const result = chain.run(access());
    expect(result).toEqual({
      status: "ok",
      code: "consent",
      decision: "permitted",
      cites: consent.id,
      flagged: false,
    });
    expect(audit()).toHaveLength(1);
    expect(audit()[0]).toMatchObject({
      decision: "permitted",
      code: "consent",
      cites: consent.id,
      flagged: false,
    });
  });

  it("denies after a revoke with consent-revoked", () => {
    const { chain, grant, access, patient } = setup();
    const consent = grant();
    chain.run(consent);
    expect(chain.run(chain.tx("consent.revoke", patient, { consent: consent.id })).status).toBe("ok");
    expect(chain.run(access())).toMatchObject({
      status: "rejected",
      decision: "denied",
      code: "consent-revoked",
      flagged: true,
    });
    expect(chain.run(chain.tx("consent.revoke", patient, { consent: consent.id })).code).toBe(
      "consent-already-revoked",
    );
  });

  it("denies an expired consent and a consent not yet valid", () => {
    const { chain, grant, access } = setup();
    chain.run(grant({ expires: chain.time + HOUR }));
    chain.advance(2 * HOUR);
    expect(chain.run(access()).code).toBe("consent-expired");
    chain.run(grant({ notBefore: chain.time + DAY, expires: chain.time + 2 * DAY }));
    expect(chain.run(access()).code).toBe("consent-not-yet-valid");
    chain.advance(DAY);
    expect(chain.run(access()).code).toBe("consent");
  });

  it("denies a purpose or category that was not granted", () => {
    const { chain, grant, access } = setup();
    chain.run(grant());
    expect(chain.run(access({ purpose: "HRESCH" })).code).toBe("purpose-not-granted");
    expect(chain.run(access({ category: "imaging" })).code).toBe("category-not-granted");
  });

  it("denies with no-consent when nothing was granted and for another provider", () => {
    const { chain, grant, access, other } = setup();
    expect(chain.run(access()).code).toBe("no-consent");
    chain.run(grant());
    expect(chain.run(access({}, other)).code).toBe("no-consent");
  });

  it("supports record-level consent", () => {
    const { chain, grant, access, provider, patient } = setup();
    const anchor = (record: string) =>
      chain.tx("record.anchor", provider, {
        record,
        patient,
        category: "imaging",
        format: "ImagingStudy",
        contentHash: hashOf(record),
      });
    expect(chain.block([anchor("scan-1"), anchor("scan-2")]).results.map((r) => r.code)).toEqual([
      "ok",
      "ok",
    ]);
    const consent = grant({ categories: [], records: ["scan-1"] });
    expect(chain.run(consent).code).toBe("ok");
    expect(chain.run(access({ category: "imaging", record: "scan-1" }))).toMatchObject({
      code: "consent",
      cites: consent.id,
    });
    expect(chain.run(access({ category: "imaging", record: "scan-2" })).code).toBe("category-not-granted");
    expect(chain.run(access({ category: "imaging" })).code).toBe("category-not-granted");
    expect(chain.run(access({ category: "labs", record: "scan-1" })).code).toBe("record-category-mismatch");
    expect(chain.run(access({ category: "imaging", record: "nope" })).code).toBe("record-unknown");
    expect(chain.run(grant({ records: ["nope"] })).code).toBe("record-unknown");
  });

  it("lets a member-level consent cover every provider of the member", () => {
    const { chain, grant, access, member, other } = setup();
    const consent = grant({ grantee: member });
    chain.run(consent);
    expect(chain.run(access({}, other))).toMatchObject({ code: "consent", cites: consent.id });
  });

  it("cites the earliest granted of several covering consents", () => {
    const { chain, grant, access } = setup();
    const first = grant();
    const second = grant({ categories: ["labs", "notes"] });
    chain.block([first, second]);
    expect(chain.run(access()).cites).toEqual(first.id);
  });

  it("denies a suspended provider and a provider whose member left", () => {
    const { chain, grant, access, member, provider } = setup();
    chain.run(grant());
    const suspend = chain.tx("provider.suspend", member, { provider, reason: "licence lapsed" });
    expect(chain.run(suspend).code).toBe("ok");
    expect(chain.run(access()).code).toBe("provider-suspended");
    expect(chain.run(chain.tx("provider.suspend", member, { provider, reason: "again" })).code).toBe(
      "already-suspended",
    );
    const reinstate = chain.tx("provider.register", member, { provider, licenseHash: hashOf("new licence") });
    expect(chain.run(reinstate).code).toBe("ok");
    expect(chain.run(access()).code).toBe("consent");
  });

  it("denies a signer that is not a provider and an unknown patient", () => {
    const { chain, access, patient } = setup();
    expect(chain.run(access({}, patient)).code).toBe("signer-not-provider");
    expect(chain.run(access({ patient: did("stranger") })).code).toBe("patient-unknown");
  });

  it("keeps every rejected attempt in the audit trail, flagged", () => {
    const { chain, access, audit, provider, patient } = setup();
    chain.run(access());
    const replayed = access({ purpose: "HPAYMT" });
    chain.run(replayed);
    chain.run(replayed);
    chain.run(access({}, did("impostor")));
    const stale = makeTx(chain.time - 2 * HOUR, "access.log", provider, {
      patient,
      category: "labs",
      purpose: "TREAT",
    });
    chain.run(stale);
    expect(audit().map((row) => [row.decision, row.code, row.flagged])).toEqual([
      ["denied", "no-consent", true],
      ["denied", "no-consent", true],
      ["denied", "tx-replayed", true],
      ["denied", "signer-not-provider", true],
      ["denied", "tx-expired", true],
    ]);
  });

  it("answers checkAccess like the rules, without writing", () => {
    const { chain, grant, provider, patient } = setup();
    const consent = grant();
    chain.run(consent);
    const request = { provider, patient, category: "labs", purpose: "TREAT" } as const;
    expect(checkAccess(chain.store, request, chain.time)).toEqual({
      decision: "permitted",
      code: "consent",
      cites: consent.id,
      flagged: false,
    });
    expect(checkAccess(chain.store, request, chain.time + 31 * DAY).code).toBe("consent-expired");
    expect(chain.store.auditOfPatient(patient, { limit: 10 }).items).toHaveLength(0);
  });

  it("emits a patient notification for each access", () => {
    const { chain, grant, access, patient, provider } = setup();
    chain.run(grant());
    const outcome = chain.block([access(), access({ category: "notes" })]);
    expect(
      outcome.events.map(
        (event) => event.type === "access" && [event.patient, event.provider, event.decision],
      ),
    ).toEqual([
      [patient, provider, "permitted"],
      [patient, provider, "denied"],
    ]);
  });
});

describe("break-glass", () => {
  function emergencySetup(durationMs = HOUR) {
    const world = setup();
    const { chain, provider, patient } = world;
    const declare = chain.tx("emergency.declare", provider, {
      patient,
      reason: "unconscious in ER",
      durationMs,
    });
    const outcome = chain.block([declare]);
    return { ...world, declare, outcome };
  }

  it("permits ETREAT within the default scope, flagged, citing the break-glass, and notifies the patient", () => {
    const { chain, access, declare, outcome, patient, provider } = emergencySetup();
    expect(outcome.results[0]).toEqual({ status: "ok", code: "ok", flagged: true });
    expect(outcome.events[0]).toMatchObject({
      type: "break-glass",
      patient,
      provider,
      emergency: declare.id,
    });
    expect(chain.run(access({ purpose: "ETREAT", category: "allergies" }))).toEqual({
      status: "ok",
      code: "emergency",
      decision: "emergency",
      cites: declare.id,
      flagged: true,
    });
    expect(chain.run(access({ purpose: "TREAT", category: "allergies" })).code).toBe("no-consent");
  });

  it("never reaches a sensitive category unless the patient put it in the scope", () => {
    const { chain, access, patient } = emergencySetup();
    expect(chain.run(access({ purpose: "ETREAT", category: "mental-health" })).code).toBe(
      "emergency-scope-excluded",
    );
    chain.run(chain.tx("patient.set-emergency-scope", patient, { categories: ["mental-health"] }));
    expect(chain.run(access({ purpose: "ETREAT", category: "mental-health" })).code).toBe("emergency");
    expect(chain.run(access({ purpose: "ETREAT", category: "allergies" })).code).toBe(
      "emergency-scope-excluded",
    );
  });

  it("ends when its duration is over", () => {
    const { chain, access, provider, patient } = emergencySetup(HOUR);
    const again = chain.tx("emergency.declare", provider, {
      patient,
      reason: "still in ER",
      durationMs: HOUR,
    });
    expect(chain.run(again).code).toBe("emergency-active");
    chain.advance(HOUR);
    expect(chain.run(access({ purpose: "ETREAT", category: "allergies" })).code).toBe("emergency-expired");
    expect(
      checkAccess(chain.store, { provider, patient, category: "labs", purpose: "ETREAT" }, chain.time).code,
    ).toBe("emergency-expired");
  });

  it("lasts emergency_duration_default_ms (24 h) when durationMs is absent", () => {
    const { chain, access, provider, patient } = setup();
    const declare = chain.tx("emergency.declare", provider, { patient, reason: "unconscious in ER" });
    const from = chain.time + 1000;
    expect(chain.block([declare], 1000).events[0]).toMatchObject({
      type: "break-glass",
      until: from + emergency_duration_default_ms,
    });
    expect(chain.store.getEmergency(declare.id)).toMatchObject({ from, until: from + DAY });
    chain.advance(DAY - 2000);
    expect(chain.run(access({ purpose: "ETREAT", category: "allergies" })).code).toBe("emergency");
    expect(chain.run(access({ purpose: "ETREAT", category: "allergies" })).code).toBe("emergency-expired");
  });

  it("covers only the declaring provider", () => {
    const { chain, access, other } = emergencySetup();
    expect(chain.run(access({ purpose: "ETREAT" }, other)).code).toBe("no-consent");
  });
});

describe("envelope", () => {
  it("rejects a replayed transaction, also inside one block", () => {
    const { chain, patient } = setup();
    const scope = chain.tx("patient.set-emergency-scope", patient, { categories: ["labs"] });
    expect(chain.block([scope, scope]).results.map((r) => r.code)).toEqual(["ok", "tx-replayed"]);
    expect(chain.run(scope).code).toBe("tx-replayed");
  });

  it("rejects another chain id and expired or too-far expires", () => {
    const { chain, patient } = setup();
    const body = { categories: [] };
    const next = chain.time + 1000;
    expect(chain.run(chain.tx("patient.set-emergency-scope", patient, body, { chain: "other" })).code).toBe(
      "chain-mismatch",
    );
    expect(
      chain.run(chain.tx("patient.set-emergency-scope", patient, body, { expires: chain.time })).code,
    ).toBe("tx-expired");
    const far = chain.tx("patient.set-emergency-scope", patient, body, {
      expires: chain.time + 1000 + tx_ttl_max_ms + 1,
    });
    expect(chain.run(far).code).toBe("tx-expires-too-far");
    const edge = makeTx(next, "patient.set-emergency-scope", patient, body, {
      expires: next + 1000 + tx_ttl_max_ms,
    });
    expect(chain.run(edge).code).toBe("ok");
  });

  it("forgets ids after they expire (pruned), without allowing replays", () => {
    const { chain, patient } = setup();
    const scope = chain.tx(
      "patient.set-emergency-scope",
      patient,
      { categories: ["labs"] },
      { expires: chain.time + 5000 },
    );
    chain.run(scope);
    const store = chain.store as unknown as { seenCount(): number };
    const before = store.seenCount();
    chain.advance(10_000);
    expect(store.seenCount()).toBeLessThan(before);
    expect(chain.run(scope).code).toBe("tx-expired");
  });

  it("accepts many transactions from one signer in one block", () => {
    const { chain, patient, member } = setup();
    const txs = Array.from({ length: 50 }, (_, index) =>
      chain.tx("consent.grant", patient, {
        grantee: member,
        categories: ["labs"],
        records: [],
        purposes: ["TREAT"],
        notBefore: chain.time,
        expires: chain.time + DAY + index,
      }),
    );
    const codes = chain.block(txs.slice(0, 32)).results.map((r) => r.code);
    expect(codes.every((code) => code === "ok")).toBe(true);
    expect(chain.run(txs[40] as (typeof txs)[number]).code).toBe("too-many-consents");
  });

  it("rejects a body that breaks a stateless rule, and an unknown kind", () => {
    const { chain, patient } = setup();
    const broken = chain.tx("patient.set-guardians", patient, { guardians: [], threshold: 1 });
    expect(chain.run(broken).code).toBe("body-invalid");
    const unknown = chain.tx("patient.register", patient, {});
    (unknown.signed.tx as { kind: string }).kind = "patient.forge";
    expect(chain.run(unknown).code).toBe("kind-unknown");
  });

  it("checks that the signer signs with its current key and alone", () => {
    const { chain, patient } = setup();
    const wrongKey = chain.tx("patient.set-emergency-scope", patient, { categories: [] }, { key: did("x") });
    expect(chain.run(wrongKey).code).toBe("key-not-current");
    const cosigned = chain.tx(
      "patient.set-emergency-scope",
      patient,
      { categories: [] },
      { cosigners: [[did("g"), did("g")]] },
    );
    expect(chain.run(cosigned).code).toBe("signature-count");
    const mismatch = chain.tx("patient.set-emergency-scope", patient, { categories: [] });
    (mismatch.signed.tx as { signer: string }).signer = did("x");
    expect(chain.run(mismatch).code).toBe("signer-mismatch");
  });
});

describe("authenticity before replay", () => {
  /** A copy of `genuine` (same id: the id excludes signatures) carrying the signatures `sigs`. */
  function copyWith(genuine: Tx, sigs: Array<[signer: Did, key: Did]>): Tx {
    const signed = {
      ...genuine.signed,
      sigs: sigs.map(([signer, key]) => ({ signer, key, sig: new Uint8Array(64) })),
    };
    return { signed, id: genuine.id };
  }

  it("a copy re-signed by an attacker neither consumes the id nor blocks the genuine transaction", () => {
    const { chain, patient, grant } = setup();
    const genuine = grant();
    const attacker = did("attacker");
    const seen = () => (chain.store as unknown as { seenCount(): number }).seenCount();
    const before = seen();
    const copies = [
      copyWith(genuine, [[patient, attacker]]), // signer unchanged, the attacker's key
      copyWith(genuine, [[attacker, attacker]]), // signed as the attacker
      copyWith(genuine, [
        [patient, patient],
        [attacker, attacker],
      ]), // a signature added
    ];
    const outcome = chain.block(copies);
    expect(outcome.results.map((result) => result.code)).toEqual([
      "key-not-current",
      "signer-mismatch",
      "signature-count",
    ]);
    expect(outcome.events).toEqual([]);
    expect(seen()).toBe(before);
    expect(chain.run(genuine).code).toBe("ok");
    expect(chain.run(genuine).code).toBe("tx-replayed");
  });

  it("a forged access.log is rejected without an audit row, a notification or a consumed id", () => {
    const { chain, access, audit, provider, patient } = setup();
    const genuine = access();
    const forged = copyWith(genuine, [[provider, did("attacker")]]);
    const outcome = chain.block([forged]);
    expect(outcome.results).toEqual([{ status: "rejected", code: "key-not-current" }]);
    expect(outcome.events).toEqual([]);
    expect(audit()).toEqual([]);
    expect(chain.run(genuine)).toMatchObject({ decision: "denied", code: "no-consent" });
    expect(chain.run(forged).code).toBe("key-not-current"); // not tx-replayed: checked first, not audited
    expect(audit().map((row) => [row.provider, row.patient, row.code])).toEqual([
      [provider, patient, "no-consent"],
    ]);
  });

  it("a key.recover copy with a guardian stripped or a stranger added leaves the id to the guardians", () => {
    const { chain, patient } = setup();
    const [g1, g2] = [did("g1"), did("g2")];
    chain.run(chain.tx("patient.set-guardians", patient, { guardians: [g1, g2], threshold: 2 }));
    const genuine = chain.tx(
      "key.recover",
      g1,
      { patient, newKey: did("recovered") },
      { cosigners: [[g2, g2]] },
    );
    const stripped = copyWith(genuine, [[g1, g1]]);
    const stranger = copyWith(genuine, [
      [g1, g1],
      [g2, g2],
      [did("s"), did("s")],
    ]);
    const codes = chain.block([stripped, stranger]).results.map((result) => result.code);
    expect(codes).toEqual(["guardian-threshold-not-met", "signer-not-guardian"]);
    expect(chain.run(genuine).code).toBe("ok");
  });

  it("an authentic transaction that fails its rules still consumes its id", () => {
    const { chain, provider } = setup();
    const taken = chain.tx("key.rotate", provider, { newKey: did("m0") });
    expect(chain.run(taken).code).toBe("key-in-use");
    expect(chain.run(taken).code).toBe("tx-replayed");
  });

  it("checkSignerKeys is the authenticity check alone, and writes nothing", () => {
    const { chain, patient, member } = setup();
    const newKey = did("patient-key-2");
    const ok = chain.tx("patient.set-emergency-scope", patient, { categories: [] });
    const stale = chain.tx("patient.set-emergency-scope", patient, { categories: [] }, { key: newKey });
    expect(checkSignerKeys(chain.store, ok.signed)).toBeNull();
    expect(checkSignerKeys(chain.store, stale.signed)).toBe("key-not-current");
    expect(checkSignerKeys(chain.store, copyWith(ok, []).signed)).toBe("signature-count");
    expect(checkSignerKeys(chain.store, copyWith(ok, [[member, member]]).signed)).toBe("signer-mismatch");
    const twice = chain.tx("key.recover", member, { patient, newKey }, { cosigners: [[member, member]] });
    expect(checkSignerKeys(chain.store, twice.signed)).toBe("duplicate-signer");
    chain.run(chain.tx("key.rotate", patient, { newKey }));
    expect(checkSignerKeys(chain.store, ok.signed)).toBe("key-not-current");
    expect(checkSignerKeys(chain.store, stale.signed)).toBeNull();
  });
});

describe("keys", () => {
  it("rotates a key: the old key can no longer sign, the new one can, and keys are never reused", () => {
    const { chain, patient, provider } = setup();
    const newKey = did("patient-key-2");
    expect(chain.run(chain.tx("key.rotate", patient, { newKey })).code).toBe("ok");
    const body = { categories: [] };
    expect(chain.run(chain.tx("patient.set-emergency-scope", patient, body)).code).toBe("key-not-current");
    expect(chain.run(chain.tx("patient.set-emergency-scope", patient, body, { key: newKey })).code).toBe(
      "ok",
    );
    expect(chain.run(chain.tx("key.rotate", provider, { newKey })).code).toBe("key-in-use");
    expect(chain.run(chain.tx("key.rotate", provider, { newKey: patient })).code).toBe("key-in-use");
    // The new key belongs to the patient now: it cannot also act under its own DID.
    expect(chain.run(chain.tx("patient.register", newKey, {})).code).toBe("key-not-current");
    expect(
      chain.run(chain.tx("access.log", newKey, { patient, category: "labs", purpose: "TREAT" })).code,
    ).toBe("key-not-current");
  });

  it("recovers with a threshold of guardians, not with one short", () => {
    const { chain, patient } = setup();
    const [g1, g2, g3] = [did("g1"), did("g2"), did("g3")];
    expect(
      chain.run(chain.tx("patient.set-guardians", patient, { guardians: [g1, g2, g3], threshold: 2 })).code,
    ).toBe("ok");
    const newKey = did("patient-recovered");
    const short = chain.tx("key.recover", g1, { patient, newKey });
    expect(chain.run(short).code).toBe("guardian-threshold-not-met");
    const stranger = chain.tx("key.recover", g1, { patient, newKey }, { cosigners: [[did("s"), did("s")]] });
    expect(chain.run(stranger).code).toBe("signer-not-guardian");
    const twice = chain.tx("key.recover", g1, { patient, newKey }, { cosigners: [[g1, g1]] });
    expect(chain.run(twice).code).toBe("duplicate-signer");
    const enough = chain.tx("key.recover", g1, { patient, newKey }, { cosigners: [[g3, g3]] });
    const outcome = chain.block([enough]);
    expect(outcome.results[0]?.code).toBe("ok");
    expect(outcome.events).toEqual([{ type: "key-changed", identity: patient, key: newKey, how: "recover" }]);
    const body = { categories: [] };
    expect(chain.run(chain.tx("patient.set-emergency-scope", patient, body)).code).toBe("key-not-current");
    expect(chain.run(chain.tx("patient.set-emergency-scope", patient, body, { key: newKey })).code).toBe(
      "ok",
    );
  });

  it("never rotates to a DID that passes the old syntax check but names no usable key", () => {
    const { chain, patient } = setup();
    const smallOrder = `${DID_KEY_PREFIX}${base58Encode(Uint8Array.from([0xed, 0x01, 1, ...new Uint8Array(31)]))}`;
    expect(smallOrder).toMatch(/^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]{44}$/);
    expect(chain.run(chain.tx("key.rotate", patient, { newKey: smallOrder })).code).toBe("body-invalid");
    expect(chain.store.getIdentity(patient)?.key).toBe(patient);
  });

  it("refuses a patient as its own guardian and a recovery without guardians", () => {
    const { chain, patient } = setup();
    expect(
      chain.run(chain.tx("patient.set-guardians", patient, { guardians: [patient], threshold: 1 })).code,
    ).toBe("guardian-is-patient");
    expect(chain.run(chain.tx("key.recover", did("g1"), { patient, newKey: did("k") })).code).toBe(
      "signer-not-guardian",
    );
  });
});

describe("records and erasure", () => {
  it("anchors, refuses duplicates, erases for the patient only, then denies record-erased", () => {
    const { chain, grant, access, provider, patient, member } = setup();
    const anchor = chain.tx("record.anchor", provider, {
      record: "lab-1",
      patient,
      category: "labs",
      format: "Observation",
      contentHash: hashOf("lab-1"),
    });
    expect(chain.run(anchor).code).toBe("ok");
    expect(chain.store.getRecord("lab-1")).toMatchObject({ holder: member, provider, erased: false });
    const duplicate = chain.tx("record.anchor", provider, {
      record: "lab-1",
      patient,
      category: "labs",
      format: "Observation",
      contentHash: hashOf("other"),
    });
    expect(chain.run(duplicate).code).toBe("record-exists");
    chain.run(grant());
    expect(chain.run(access({ record: "lab-1" })).code).toBe("consent");
    chain.run(chain.tx("patient.register", did("patient-2"), {}));
    expect(chain.run(chain.tx("record.erase", did("patient-2"), { record: "lab-1" })).code).toBe(
      "record-not-own",
    );
    const erase = chain.block([chain.tx("record.erase", patient, { record: "lab-1" })]);
    expect(erase.results[0]?.code).toBe("ok");
    expect(erase.events[0]).toMatchObject({
      type: "record-erased",
      holder: member,
      patient,
      record: "lab-1",
    });
    expect(chain.store.getRecord("lab-1")).toMatchObject({ erased: true, erasedAt: chain.time });
    expect(chain.run(access({ record: "lab-1" })).code).toBe("record-erased");
    expect(chain.run(chain.tx("record.erase", patient, { record: "lab-1" })).code).toBe(
      "record-already-erased",
    );
  });

  it("refuses anchors by non-providers and for unknown patients", () => {
    const { chain, provider, patient } = setup();
    const body = {
      record: "r",
      patient,
      category: "labs",
      format: "Observation",
      contentHash: hashOf("r"),
    } as const;
    expect(chain.run(chain.tx("record.anchor", patient, body)).code).toBe("signer-not-provider");
    expect(chain.run(chain.tx("record.anchor", provider, { ...body, patient: did("nobody") })).code).toBe(
      "patient-unknown",
    );
  });
});

describe("registrations", () => {
  it("lets only the provider's member suspend it, and only members register providers", () => {
    const chain = new TestChain({
      chain: CHAIN,
      time: chain0Time(),
      members: [
        { member: did("m0"), nodes: [did("m0-node")] },
        { member: did("m1"), nodes: [did("m1-node")] },
      ],
    });
    const provider = did("p0");
    expect(
      chain.run(chain.tx("provider.register", did("m0"), { provider, licenseHash: hashOf("l") })).code,
    ).toBe("ok");
    expect(chain.run(chain.tx("provider.suspend", did("m1"), { provider, reason: "no" })).code).toBe(
      "not-providers-member",
    );
    expect(
      chain.run(chain.tx("provider.register", did("m1"), { provider, licenseHash: hashOf("l") })).code,
    ).toBe("identity-exists");
    expect(
      chain.run(chain.tx("provider.register", provider, { provider: did("p9"), licenseHash: hashOf("l") }))
        .code,
    ).toBe("signer-not-member");
    expect(chain.run(chain.tx("patient.register", provider, {})).code).toBe("identity-exists");
  });

  it("refuses consents to unknown grantees and consents already over", () => {
    const { chain, grant } = setup();
    expect(chain.run(grant({ grantee: did("nobody") })).code).toBe("grantee-unknown");
    expect(chain.run(grant({ notBefore: chain.time - DAY, expires: chain.time })).code).toBe(
      "consent-already-expired",
    );
  });

  it("lets a patient revoke only its own consents", () => {
    const { chain, grant, patient } = setup();
    const consent = grant();
    chain.run(consent);
    chain.run(chain.tx("patient.register", did("patient-2"), {}));
    expect(chain.run(chain.tx("consent.revoke", did("patient-2"), { consent: consent.id })).code).toBe(
      "consent-not-own",
    );
    expect(chain.run(chain.tx("consent.revoke", patient, { consent: hashOf("nothing") })).code).toBe(
      "consent-unknown",
    );
  });
});

describe("reason codes", () => {
  it("documents every code the rules use", () => {
    for (const [code, meaning] of Object.entries(REASON_CODES)) {
      expect(code).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect(meaning.length).toBeGreaterThan(10);
    }
  });
});

function chain0Time(): number {
  return 1_700_000_000_000;
}

describe("checkAuthenticity", () => {
  it("agrees with applyTx: an inauthentic copy is named and consumes nothing, the genuine one passes", async () => {
    const { AUTHENTICITY_CODES, checkAuthenticity } = await import("../src/rules.js");
    const chain = new TestChain();
    const patient = did("auth-patient");
    const genuine = makeTx(chain.time, "patient.register", patient, {});
    const forged = makeTx(chain.time, "patient.register", patient, {}, { key: did("auth-stranger") });
    expect(checkAuthenticity(chain.store, genuine.signed)).toBeNull();
    const code = checkAuthenticity(chain.store, forged.signed);
    expect(code).toBe("key-not-current");
    expect(AUTHENTICITY_CODES.has(code as never)).toBe(true);
    const result = chain.block([{ signed: forged.signed, id: genuine.id }]).results[0];
    expect(result?.code).toBe("key-not-current");
    expect(chain.store.hasSeen(genuine.id)).toBe(false);
    expect(chain.block([genuine]).results[0]?.code).toBe("ok");
  });
});
