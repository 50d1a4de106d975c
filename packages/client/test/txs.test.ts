// Goal: the client builds a valid signed transaction of every kind, with safe defaults. Method: one
// builder call per kind (a mapped type makes a missing kind a compile error); each result is decoded
// and validated by the protocol's own parseSignedTx, its signatures verified, and its JSON view turned
// back into the same transaction; then the defaults (expiry, nonce), rotated keys, co-signing and the
// refusal of bad input.
import {
  decodeSignedTx,
  limits,
  nobleVerifier,
  parseSignedTx,
  sha256,
  TX_KINDS,
  type TxKind,
  toHex,
  txFromJson,
  txId,
  utf8,
  verifyTxSignatures,
} from "@medledger/protocol";
import { nodeSigner } from "@medledger/protocol/node";
import { describe, expect, it } from "vitest";
import {
  type BuiltTx,
  buildTx,
  clientLimits,
  generateIdentity,
  generateKey,
  hasRotated,
  identityFromKeyFile,
  rotatedIdentity,
  type TxBuilder,
  txBuilder,
} from "../src/index.js";

const NOW = 1_800_000_000_000;
const chain = "test-client";
const txs = txBuilder({ chain, now: () => NOW });
const member = generateIdentity();
const patient = generateIdentity();
const provider = generateIdentity();
const guardians = [generateIdentity(), generateIdentity(), generateIdentity()];
const hash = sha256(utf8("something"));

const EVERY_KIND: { [K in TxKind]: (b: TxBuilder) => BuiltTx<K> } = {
  "member.propose": (b) =>
    b.memberPropose(member, {
      action: "add",
      member: generateIdentity().did,
      nodes: [generateIdentity().did],
      deadline: NOW + 86_400_000,
    }),
  "member.vote": (b) => b.memberVote(member, { proposal: hash, approve: true }),
  "provider.register": (b) => b.providerRegister(member, { provider: provider.did, licenseHash: hash }),
  "provider.suspend": (b) => b.providerSuspend(member, { provider: provider.did, reason: "licence lapsed" }),
  "patient.register": (b) => b.patientRegister(patient),
  "patient.set-guardians": (b) =>
    b.patientSetGuardians(patient, { guardians: guardians.map((g) => g.did), threshold: 2 }),
  "patient.set-emergency-scope": (b) =>
    b.patientSetEmergencyScope(patient, { categories: ["labs", "allergies"] }),
  "key.rotate": (b) => b.keyRotate(patient, { newKey: generateIdentity().did }),
  "key.recover": (b) =>
    b.keyRecover(guardians.slice(0, 2), { patient: patient.did, newKey: generateIdentity().did }),
  "record.anchor": (b) =>
    b.recordAnchor(provider, { record: "lab-1", patient: patient.did, category: "labs", content: "{}" }),
  "consent.grant": (b) =>
    b.consentGrant(patient, {
      grantee: provider.did,
      categories: ["labs"],
      purposes: ["TREAT"],
      durationMs: 3_600_000,
    }),
  "consent.revoke": (b) => b.consentRevoke(patient, { consent: toHex(hash) }),
  "access.log": (b) =>
    b.accessLog(provider, { patient: patient.did, category: "labs", purpose: "TREAT", record: "lab-1" }),
  "emergency.declare": (b) => b.emergencyDeclare(provider, { patient: patient.did, reason: "unconscious" }),
  "record.erase": (b) => b.recordErase(patient, { record: "lab-1" }),
};

describe("builders of every kind", () => {
  it.each([...TX_KINDS])("%s: valid to the protocol, signed, lossless as JSON", (kind) => {
    const built = EVERY_KIND[kind](txs);
    expect(built.kind).toBe(kind);
    const decoded = decodeSignedTx(built.encoded);
    expect(parseSignedTx(decoded)).toEqual(built.signed);
    expect(toHex(verifyTxSignatures(decoded, nobleVerifier))).toBe(built.id);
    expect(toHex(txId(txFromJson(built.json).tx))).toBe(built.id);
    expect(decoded.tx).toMatchObject({ chain, kind, expires: NOW + clientLimits.tx_ttl_default_ms });
  });

  it("covers TX_KINDS exactly", () => {
    expect(Object.keys(EVERY_KIND).sort()).toEqual([...TX_KINDS].sort());
  });
});

describe("defaults and options", () => {
  it("expires within the protocol's TTL and draws a fresh random nonce each time", () => {
    expect(clientLimits.tx_ttl_default_ms).toBeLessThan(limits.tx_ttl_max_ms);
    const nonces = new Set(Array.from({ length: 50 }, () => txs.patientRegister(patient).signed.tx.nonce));
    expect(nonces.size).toBe(50);
    for (const nonce of nonces) expect(Number.isSafeInteger(nonce) && nonce >= 0).toBe(true);
  });

  it("takes nonce, ttlMs and expires", () => {
    const a = txs.patientRegister(patient, { nonce: 7, ttlMs: 1000 });
    expect(a.signed.tx).toMatchObject({ nonce: 7, expires: NOW + 1000 });
    const b = txs.patientRegister(patient, { nonce: 7, ttlMs: 1000 });
    expect(b.id).toBe(a.id); // same intent, same id: the server de-duplicates it
    expect(txs.patientRegister(patient, { expires: NOW + 5 }).signed.tx.expires).toBe(NOW + 5);
  });

  it("refuses a TTL beyond the protocol's maximum and bad bodies, as CLIENT_INPUT_INVALID", () => {
    expect(() => txs.patientRegister(patient, { ttlMs: limits.tx_ttl_max_ms + 1 })).toThrow(
      expect.objectContaining({ code: "CLIENT_INPUT_INVALID", field: "ttlMs" }),
    );
    expect(() =>
      txs.consentGrant(patient, {
        grantee: provider.did,
        categories: ["labs"],
        purposes: [],
        durationMs: 1000,
      }),
    ).toThrow(expect.objectContaining({ code: "CLIENT_INPUT_INVALID", reason: "FIELD_INVALID" }));
    expect(() =>
      txs.consentGrant(patient, { grantee: provider.did, categories: ["labs"], purposes: ["TREAT"] }),
    ).toThrow(expect.objectContaining({ code: "CLIENT_INPUT_INVALID", field: "expires" }));
    expect(() => txs.keyRecover([], { patient: patient.did, newKey: provider.did })).toThrow(
      expect.objectContaining({ code: "CLIENT_INPUT_INVALID" }),
    );
  });

  it("hashes anchor content (string or bytes) and revokes by grant", () => {
    const anchor = txs.recordAnchor(provider, {
      record: "r",
      patient: patient.did,
      category: "notes",
      content: new Uint8Array([1, 2, 3]),
    });
    expect(toHex(anchor.signed.tx.body.contentHash)).toBe(toHex(sha256(new Uint8Array([1, 2, 3]))));
    expect(anchor.signed.tx.body.format).toBe("Binary");
    const grant = EVERY_KIND["consent.grant"](txs);
    expect(grant.signed.tx.body).toMatchObject({ notBefore: NOW, expires: NOW + 3_600_000, records: [] });
    expect(toHex(txs.consentRevoke(patient, { consent: grant }).signed.tx.body.consent)).toBe(grant.id);
  });

  it("co-signs key.recover in the guardians' order, the first being the envelope's signer", () => {
    const built = txs.keyRecover(guardians, { patient: patient.did, newKey: generateIdentity().did });
    expect(built.signed.tx.signer).toBe(guardians[0]?.did);
    expect(built.signed.sigs.map((sig) => sig.signer)).toEqual(guardians.map((g) => g.did));
  });

  it("signs as the identity with its current key after a rotation", () => {
    const next = generateKey();
    const rotated = rotatedIdentity(patient, next.signer);
    expect(hasRotated(rotated)).toBe(true);
    const built = txs.recordErase(rotated, { record: "lab-1" });
    expect(built.signed.tx.signer).toBe(patient.did);
    expect(built.signed.sigs[0]).toMatchObject({ signer: patient.did, key: next.signer.did });
    verifyTxSignatures(built.signed, nobleVerifier);
    // The same identity from its key file, with the node:crypto signer, builds the same transaction.
    const fromFile = identityFromKeyFile(next.keyFile, { did: patient.did, signerFactory: nodeSigner });
    const again = buildTx(
      "record.erase",
      { record: "lab-1" },
      { chain, identity: fromFile, nonce: 1, now: () => NOW },
    );
    const first = buildTx(
      "record.erase",
      { record: "lab-1" },
      { chain, identity: rotated, nonce: 1, now: () => NOW },
    );
    expect(again.encoded).toEqual(first.encoded); // ed25519 is deterministic: same key, same bytes
  });
});
