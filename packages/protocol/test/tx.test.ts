// Goal: the transaction envelope is signed, identified and decoded exactly as documented in tx.ts:
// stable ids over the unsigned part (re-signing never changes the id: replay protection), domain
// separated signatures, strict decoding with stable error codes, and a lossless JSON view.
// Method: fixed examples, then fast-check properties over generated transactions and mutations.
import { encode as cborEncode, rfc8949EncodeOptions } from "cborg";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { concatBytes, sha256, toHex, utf8 } from "../src/bytes.js";
import { decodeCanonical } from "../src/encoding.js";
import { isProtocolError } from "../src/errors.js";
import { tx_bytes_max, tx_signatures_max } from "../src/limits.js";
import { nodeVerifier } from "../src/node.js";
import { nobleSigner, nobleVerifier } from "../src/signer.js";
import {
  checkTxChain,
  decodeSignedTx,
  decodeSignedTxWithId,
  encodeSignedTx,
  encodeUnsignedTx,
  isTxLive,
  signTx,
  txFromJson,
  txId,
  txSigningPayload,
  txToJson,
  verifyTxSignatures,
} from "../src/tx.js";
import type { SignedTx, UnsignedTx } from "../src/types.js";
import {
  CHAIN,
  grantTx,
  guardian,
  patient,
  provider,
  registerTx,
  signedTxArbitrary,
  TIME,
  testSigner,
  unsigned,
} from "./fixtures.js";

// biome-ignore lint/suspicious/noExplicitAny: tests edit raw decoded maps freely
type Raw = any;

function expectCode(action: () => unknown, code: string): void {
  try {
    action();
  } catch (error) {
    expect(isProtocolError(error), String(error)).toBe(true);
    expect((error as { code: string }).code, (error as Error).message).toBe(code);
    return;
  }
  throw new Error(`expected ${code}, got success`);
}

/** Re-encodes a signed transaction after `edit` on its raw decoded map, with cborg directly (no checks). */
function tampered(signed: SignedTx, edit: (raw: Raw) => void): Uint8Array {
  const raw = decodeCanonical(encodeSignedTx(signed), { bytesMax: tx_bytes_max }) as Raw;
  edit(raw);
  return cborEncode(raw, rfc8949EncodeOptions);
}

describe("signing and ids", () => {
  it("the id is sha256 of the unsigned encoding and the payload is prefix || id", () => {
    const signed = registerTx();
    const id = txId(signed.tx);
    expect(toHex(id)).toBe(toHex(sha256(encodeUnsignedTx(signed.tx))));
    expect(toHex(txSigningPayload(id))).toBe(toHex(concatBytes(utf8("medledger/tx/v1\n"), id)));
    expect(toHex(verifyTxSignatures(signed, nodeVerifier))).toBe(toHex(id));
    expect(toHex(verifyTxSignatures(signed, nobleVerifier))).toBe(toHex(id));
  });

  it("noble and node signers produce the same transaction (ed25519 is deterministic)", () => {
    const tx = unsigned("patient.register", {});
    const viaNoble = signTx(tx, [nobleSigner(new Uint8Array(32).fill(1))]);
    expect(toHex(encodeSignedTx(viaNoble))).toBe(toHex(encodeSignedTx(signTx(tx, [patient]))));
  });

  it("re-signing, re-ordering co-signatures or swapping a signature never changes the id (property)", () => {
    fc.assert(
      fc.property(signedTxArbitrary, (signed) => {
        const id = toHex(txId(signed.tx));
        const resigned = signTx(signed.tx, [patient, guardian]);
        expect(toHex(txId(resigned.tx))).toBe(id);
        const forged: SignedTx = {
          tx: signed.tx,
          sigs: [{ ...signed.sigs[0]!, sig: new Uint8Array(64).fill(7) }],
        };
        expect(toHex(decodeSignedTxWithId(encodeSignedTx(forged)).id)).toBe(id);
      }),
      { numRuns: 100 },
    );
  });

  it("different nonces give different ids", () => {
    expect(toHex(txId(registerTx(1).tx))).not.toBe(toHex(txId(registerTx(2).tx)));
  });

  it("a co-signed transaction verifies; identities may sign with another key", () => {
    const rotated = testSigner(9);
    const signed = signTx(unsigned("patient.register", {}), [
      { key: rotated, identity: patient.did },
      guardian,
    ]);
    expect(signed.sigs[0]!.key).toBe(rotated.did);
    verifyTxSignatures(signed, nodeVerifier);
  });
});

describe("signature checks", () => {
  it("rejects a wrong signature, a wrong key, a first signer that is not the envelope's, duplicates", () => {
    const signed = grantTx();
    const flipped = signed.sigs[0]!.sig.slice();
    flipped[0] = (flipped[0] as number) ^ 1;
    expectCode(
      () => verifyTxSignatures({ ...signed, sigs: [{ ...signed.sigs[0]!, sig: flipped }] }, nodeVerifier),
      "SIGNATURE_INVALID",
    );
    expectCode(
      () =>
        verifyTxSignatures({ ...signed, sigs: [{ ...signed.sigs[0]!, key: provider.did }] }, nodeVerifier),
      "SIGNATURE_INVALID",
    );
    const byOther = signTx({ ...signed.tx, signer: provider.did }, [provider]);
    expectCode(
      () => verifyTxSignatures({ tx: byOther.tx, sigs: [...signed.sigs] }, nodeVerifier),
      "SIGNATURE_INVALID",
    );
    const twice = signTx(signed.tx, [patient, patient]);
    expectCode(() => verifyTxSignatures(twice, nodeVerifier), "SIGNATURE_INVALID");
    expectCode(() => signTx(signed.tx, [provider]), "FIELD_INVALID");
  });

  it("a signature of the bare id (without the domain prefix) is rejected", () => {
    const signed = registerTx();
    const bare = patient.sign(txId(signed.tx));
    expectCode(
      () => verifyTxSignatures({ ...signed, sigs: [{ ...signed.sigs[0]!, sig: bare }] }, nobleVerifier),
      "SIGNATURE_INVALID",
    );
  });

  it("any single-bit change to an encoded transaction is rejected at decode or verify (property)", () => {
    const bytes = encodeSignedTx(grantTx());
    fc.assert(
      fc.property(fc.nat(bytes.length * 8 - 1), (bit) => {
        const mutated = bytes.slice();
        mutated[bit >> 3] = (mutated[bit >> 3] as number) ^ (1 << (bit & 7));
        try {
          verifyTxSignatures(decodeSignedTx(mutated), nodeVerifier);
        } catch (error) {
          expect(isProtocolError(error), String(error)).toBe(true);
          return;
        }
        throw new Error(`bit ${bit} changed without detection`);
      }),
      { numRuns: 300 },
    );
  });
});

describe("chain and expiry", () => {
  it("checkTxChain rejects another chain with CHAIN_MISMATCH", () => {
    const signed = registerTx();
    checkTxChain(signed, CHAIN);
    checkTxChain(signed.tx, CHAIN);
    expectCode(() => checkTxChain(signed, "other-chain"), "CHAIN_MISMATCH");
  });

  it("a transaction signed for one chain does not verify for another (the chain is in the id)", () => {
    const signed = registerTx();
    const moved: SignedTx = { tx: { ...signed.tx, chain: "other-chain" }, sigs: signed.sigs };
    expectCode(() => verifyTxSignatures(moved, nodeVerifier), "SIGNATURE_INVALID");
  });

  it("isTxLive bounds expiry to [time, time + ttl]", () => {
    const tx = registerTx().tx;
    expect(isTxLive(tx, TIME)).toBe(true);
    expect(isTxLive(tx, tx.expires)).toBe(true);
    expect(isTxLive(tx, tx.expires + 1)).toBe(false);
    expect(isTxLive({ ...tx, expires: TIME + 2 * 3_600_000 }, TIME)).toBe(false);
  });
});

describe("strict decoding", () => {
  const signed = grantTx();

  it("round trips through bytes exactly", () => {
    const bytes = encodeSignedTx(signed);
    expect(toHex(encodeSignedTx(decodeSignedTx(bytes)))).toBe(toHex(bytes));
  });

  const cases: [string, (raw: Raw) => void, string][] = [
    [
      "an unknown top-level field",
      (raw) => {
        raw.extra = 1;
      },
      "FIELD_UNKNOWN",
    ],
    [
      "an unknown envelope field",
      (raw) => {
        raw.tx.extra = 1;
      },
      "FIELD_UNKNOWN",
    ],
    [
      "an unknown body field",
      (raw) => {
        raw.tx.body.extra = 1;
      },
      "FIELD_UNKNOWN",
    ],
    [
      "an unknown signature field",
      (raw) => {
        raw.sigs[0].extra = 1;
      },
      "FIELD_UNKNOWN",
    ],
    [
      "a missing field",
      (raw) => {
        delete raw.tx.nonce;
      },
      "FIELD_MISSING",
    ],
    [
      "no signatures",
      (raw) => {
        raw.sigs = [];
      },
      "FIELD_MISSING",
    ],
    [
      "too many signatures",
      (raw) => {
        raw.sigs = Array(tx_signatures_max + 1).fill(raw.sigs[0]);
      },
      "FIELD_TOO_LARGE",
    ],
    [
      "an unknown kind",
      (raw) => {
        raw.tx.kind = "patient.delete";
      },
      "KIND_UNKNOWN",
    ],
    [
      "version 2",
      (raw) => {
        raw.tx.v = 2;
      },
      "FIELD_INVALID",
    ],
    [
      "a 63-byte signature",
      (raw) => {
        raw.sigs[0].sig = raw.sigs[0].sig.subarray(0, 63);
      },
      "FIELD_INVALID",
    ],
    [
      "a signer that is no did:key",
      (raw) => {
        raw.tx.signer = "did:web:example.org";
      },
      "DID_INVALID",
    ],
    [
      "a key with a bad multicodec",
      (raw) => {
        raw.sigs[0].key = "did:key:z6LSbysY2xFMRpGMhb7tFTLMpeuPRaqaWM1yECx2AtzE3KCc";
      },
      "DID_INVALID",
    ],
    [
      "a nonce above 2^53 - 1",
      (raw) => {
        raw.tx.nonce = 2 ** 53;
      },
      "ENCODING_INVALID",
    ],
    [
      "a negative nonce",
      (raw) => {
        raw.tx.nonce = -1;
      },
      "ENCODING_INVALID",
    ],
    [
      "a float expiry",
      (raw) => {
        raw.tx.expires = 1.5;
      },
      "ENCODING_INVALID",
    ],
    [
      "a text signature",
      (raw) => {
        raw.sigs[0].sig = "00";
      },
      "FIELD_INVALID",
    ],
    [
      "an upper-case chain id",
      (raw) => {
        raw.tx.chain = "Main";
      },
      "FIELD_INVALID",
    ],
    [
      "an oversized chain id",
      (raw) => {
        raw.tx.chain = "a".repeat(65);
      },
      "FIELD_TOO_LARGE",
    ],
    [
      "an oversized body field",
      (raw) => {
        raw.tx.body.records = ["x".repeat(200)];
      },
      "FIELD_TOO_LARGE",
    ],
    [
      "a body of the wrong shape",
      (raw) => {
        raw.tx.body = [1];
      },
      "FIELD_INVALID",
    ],
  ];
  for (const [what, edit, code] of cases) {
    it(`rejects ${what} with ${code}`, () => expectCode(() => decodeSignedTx(tampered(signed, edit)), code));
  }

  it("rejects an encoding above tx_bytes_max with ENCODING_TOO_LARGE before decoding", () => {
    expectCode(() => decodeSignedTx(new Uint8Array(tx_bytes_max + 1)), "ENCODING_TOO_LARGE");
  });

  it("refuses to encode or sign a transaction above tx_bytes_max (ENCODING_TOO_LARGE)", () => {
    const records = Array.from({ length: 64 }, (_, index) => `${index}`.padStart(128, "r"));
    const heavy = unsigned("consent.grant", {
      grantee: provider.did,
      categories: [],
      records,
      purposes: ["TREAT"],
      notBefore: TIME,
      expires: TIME + 1,
    });
    expectCode(() => encodeUnsignedTx(heavy), "ENCODING_TOO_LARGE");
    expectCode(() => signTx(heavy, [patient]), "ENCODING_TOO_LARGE");
    // The largest legal signature set still fits.
    const signers = Array.from({ length: tx_signatures_max }, (_, index) => testSigner(20 + index));
    const cosigned = signTx({ ...unsigned("patient.register", {}), signer: signers[0]!.did }, signers);
    expect(encodeSignedTx(cosigned).length).toBeLessThan(tx_bytes_max);
  });

  it("random bytes give a transaction or a ProtocolError, never anything else (property)", () => {
    const valid = encodeSignedTx(signed);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.tuple(fc.nat(valid.length), fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([at, patch]) => {
            const out = valid.slice();
            out.set(patch.subarray(0, out.length - Math.min(at, out.length)), Math.min(at, out.length));
            return out;
          }),
          fc.nat(valid.length).map((length) => valid.slice(0, length)),
        ),
        (bytes) => {
          try {
            decodeSignedTx(bytes);
          } catch (error) {
            expect(isProtocolError(error), String(error)).toBe(true);
          }
        },
      ),
      { numRuns: 1500 },
    );
  });
});

describe("JSON view", () => {
  it("txFromJson(txToJson(t)) equals t, through JSON text too (property)", () => {
    fc.assert(
      fc.property(signedTxArbitrary, (signed) => {
        const json = txToJson(signed);
        const back = txFromJson(JSON.parse(JSON.stringify(json)));
        expect(back).toEqual(signed);
        expect(toHex(encodeSignedTx(back))).toBe(toHex(encodeSignedTx(signed)));
      }),
      { numRuns: 150 },
    );
  });

  it("bytes are lowercase hex; malformed views are typed errors", () => {
    const json = txToJson(grantTx()) as Raw;
    expect(json.sigs[0].sig).toMatch(/^[0-9a-f]{128}$/);
    expectCode(
      () => txFromJson({ ...json, sigs: [{ ...json.sigs[0], sig: json.sigs[0].sig.toUpperCase() }] }),
      "FIELD_INVALID",
    );
    expectCode(() => txFromJson({ ...json, extra: true }), "FIELD_UNKNOWN");
    expectCode(() => txFromJson({ ...json, tx: { ...json.tx, kind: "nope" } }), "KIND_UNKNOWN");
    expectCode(() => txFromJson({ ...json, tx: { ...json.tx, nonce: 1.5 } }), "FIELD_INVALID");
    expectCode(() => txFromJson(null), "FIELD_INVALID");
  });

  it("random JSON values give a transaction or a ProtocolError (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (json) => {
        try {
          txFromJson(json);
        } catch (error) {
          expect(isProtocolError(error), String(error)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("the envelope as typed", () => {
  it("encodeUnsignedTx refuses an unknown field on the object", () => {
    const tx = { ...unsigned("patient.register", {}), extra: 1 } as unknown as UnsignedTx;
    expectCode(() => encodeUnsignedTx(tx), "FIELD_UNKNOWN");
  });
});
