// Goal: measure the protocol's hot paths on this machine: ed25519 verification with node:crypto
// (cached KeyObject) and noble, canonical encoding and decoding of a signed transaction, and
// transaction ids (encode + sha256). Run: npx vitest bench --run packages/protocol/bench
import { bench, describe } from "vitest";
import { createNodeVerifier, nodeSigner } from "../src/node.js";
import { nobleVerifier } from "../src/signer.js";
import { decodeSignedTx, encodeSignedTx, signTx, txId, txSigningPayload } from "../src/tx.js";
import type { SignedTx } from "../src/types.js";

const signer = nodeSigner(new Uint8Array(32).fill(1));
const grantee = nodeSigner(new Uint8Array(32).fill(2));
const signed: SignedTx = signTx(
  {
    v: 1,
    chain: "medledger-bench",
    kind: "consent.grant",
    signer: signer.did,
    nonce: 42,
    expires: 1_750_000_060_000,
    body: {
      grantee: grantee.did,
      categories: ["labs", "allergies", "medications"],
      records: ["obs-1", "obs-2"],
      purposes: ["TREAT"],
      notBefore: 1_750_000_000_000,
      expires: 1_750_086_400_000,
    },
  },
  [signer],
);
const encoded = encodeSignedTx(signed);
const payload = txSigningPayload(txId(signed.tx));
const signature = signed.sigs[0]!.sig;
const nodeVerifier = createNodeVerifier();

describe(`ed25519 verify (payload ${payload.length} bytes)`, () => {
  bench("node:crypto, cached KeyObject", () => {
    if (!nodeVerifier.verify(signer.publicKey, payload, signature)) throw new Error("verify failed");
  });
  bench("noble", () => {
    if (!nobleVerifier.verify(signer.publicKey, payload, signature)) throw new Error("verify failed");
  });
});

describe(`signed consent.grant (${encoded.length} bytes)`, () => {
  bench("encodeSignedTx", () => {
    encodeSignedTx(signed);
  });
  bench("decodeSignedTx", () => {
    decodeSignedTx(encoded);
  });
  bench("txId (validate + encode + sha256)", () => {
    txId(signed.tx);
  });
});
