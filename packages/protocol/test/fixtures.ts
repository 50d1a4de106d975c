// Shared fixtures for the envelope, block and encoding tests: deterministic keys, sample transactions
// of several kinds and fast-check arbitraries that build valid signed transactions.
import fc from "fast-check";
import { nodeSigner } from "../src/node.js";
import type { Signer } from "../src/signer.js";
import { signTx } from "../src/tx.js";
import type { SignedTx, TxBodies, TxKind, UnsignedTx } from "../src/types.js";
import { CATEGORIES, PURPOSES } from "../src/vocabulary.js";

export const CHAIN = "medledger-test";
export const TIME = 1_750_000_000_000;

/** A deterministic signer: seed = 32 bytes of `index`. */
export function testSigner(index: number): Signer {
  return nodeSigner(new Uint8Array(32).fill(index));
}

export const patient = testSigner(1);
export const provider = testSigner(2);
export const guardian = testSigner(3);
export const proposer = testSigner(4);

/** An unsigned transaction of `kind` with `body`. */
export function unsigned<K extends TxKind>(
  kind: K,
  body: TxBodies[K],
  overrides: Partial<UnsignedTx<K>> = {},
) {
  const tx: UnsignedTx<K> = {
    v: 1,
    chain: CHAIN,
    kind,
    signer: patient.did,
    nonce: 1,
    expires: TIME + 60_000,
    body,
    ...overrides,
  };
  return tx;
}

/** A signed patient.register by `patient`. */
export function registerTx(nonce = 1): SignedTx {
  return signTx(unsigned("patient.register", {}, { nonce }), [patient]);
}

/** A signed consent.grant by `patient` to `provider`. */
export function grantTx(nonce = 2): SignedTx {
  return signTx(
    unsigned(
      "consent.grant",
      {
        grantee: provider.did,
        categories: ["labs", "allergies"],
        records: ["obs-1"],
        purposes: ["TREAT"],
        notBefore: TIME,
        expires: TIME + 86_400_000,
      },
      { nonce },
    ),
    [patient],
  );
}

const hashArbitrary = fc.uint8Array({ minLength: 32, maxLength: 32 });
const recordIdArbitrary = fc.stringMatching(/^[A-Za-z0-9._:-]{1,40}$/);
const textArbitrary = fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 });

/** Bodies of several kinds (byte strings, unicode text, lists, optional fields). */
export const bodyArbitrary: fc.Arbitrary<{ kind: TxKind; body: unknown }> = fc.oneof(
  fc.constant({ kind: "patient.register" as const, body: {} }),
  fc.record({
    kind: fc.constant("member.vote" as const),
    body: fc.record({ proposal: hashArbitrary, approve: fc.boolean() }),
  }),
  fc.record({
    kind: fc.constant("provider.suspend" as const),
    body: fc.record({ provider: fc.constant(provider.did), reason: textArbitrary }),
  }),
  fc.record({
    kind: fc.constant("record.anchor" as const),
    body: fc.record({
      record: recordIdArbitrary,
      patient: fc.constant(patient.did),
      category: fc.constantFrom(...CATEGORIES),
      format: fc.constantFrom("Observation", "Condition", "application/fhir+json"),
      contentHash: hashArbitrary,
    }),
  }),
  fc.record({
    kind: fc.constant("access.log" as const),
    body: fc.record(
      {
        patient: fc.constant(patient.did),
        category: fc.constantFrom(...CATEGORIES),
        purpose: fc.constantFrom(...PURPOSES),
        record: recordIdArbitrary,
      },
      { requiredKeys: ["patient", "category", "purpose"] },
    ),
  }),
  fc.record({
    kind: fc.constant("consent.grant" as const),
    body: fc
      .record({
        grantee: fc.constant(provider.did),
        categories: fc.uniqueArray(fc.constantFrom(...CATEGORIES), { minLength: 1, maxLength: 13 }),
        records: fc.uniqueArray(recordIdArbitrary, { maxLength: 5 }),
        purposes: fc.uniqueArray(fc.constantFrom(...PURPOSES), { minLength: 1, maxLength: 6 }),
        notBefore: fc.nat(2 ** 45),
        length: fc.integer({ min: 1, max: 86_400_000 }),
      })
      .map(({ length, ...rest }) => ({ ...rest, expires: rest.notBefore + length })),
  }),
);

/** Valid signed transactions: random kind, body, nonce, expiry, one or two signatures. */
export const signedTxArbitrary: fc.Arbitrary<SignedTx> = fc
  .record({
    kindBody: bodyArbitrary,
    nonce: fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)),
    expires: fc.nat(Number.MAX_SAFE_INTEGER),
    cosign: fc.boolean(),
  })
  .map(({ kindBody, nonce, expires, cosign }) => {
    const tx = {
      v: 1,
      chain: CHAIN,
      kind: kindBody.kind,
      signer: patient.did,
      nonce,
      expires,
      body: kindBody.body,
    };
    return signTx(tx as UnsignedTx, cosign ? [patient, guardian] : [patient]);
  });
