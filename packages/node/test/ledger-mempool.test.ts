// Goal: the mempool verifies once, de-duplicates, refuses bad transactions with TX_INVALID, answers
// MEMPOOL_FULL when full without dropping what it accepted, and drops only expired transactions.
// Method: direct calls with real signed transactions and a counting verifier.
import { encodeSignedTx, nobleVerifier, signTx, toHex, type Verifier } from "@medledger/protocol";
import { describe, expect, it } from "vitest";
import { hasNodeErrorCode } from "../src/errors.js";
import { Mempool } from "../src/ledger/mempool.js";
import { CHAIN, signerOf, T0 } from "./ledger-harness.js";

function countingVerifier(): Verifier & { calls: number } {
  const verifier = {
    name: "counting",
    calls: 0,
    verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
      verifier.calls++;
      return nobleVerifier.verify(publicKey, message, signature);
    },
  };
  return verifier;
}

function tx(nonce: number, options: { expires?: number; chain?: string; name?: string } = {}): Uint8Array {
  const signer = signerOf(options.name ?? "patient");
  return encodeSignedTx(
    signTx(
      {
        v: 1,
        chain: options.chain ?? CHAIN,
        kind: "patient.register",
        signer: signer.did,
        nonce,
        expires: options.expires ?? T0 + 60_000,
        body: {},
      },
      [signer],
    ),
  );
}

function mempool(options: { txsMax?: number; committed?: Set<string>; now?: () => number } = {}) {
  const verifier = countingVerifier();
  const pool = new Mempool({
    chain: CHAIN,
    verifier,
    now: options.now ?? (() => T0),
    isCommitted: (id) => options.committed?.has(toHex(id)) ?? false,
    ...(options.txsMax === undefined ? {} : { txsMax: options.txsMax }),
  });
  return { pool, verifier };
}

describe("Mempool", () => {
  it("accepts, verifies once and de-duplicates", () => {
    const { pool, verifier } = mempool();
    const encoded = tx(1);
    const first = pool.add(encoded);
    expect(first.status).toBe("accepted");
    expect(verifier.calls).toBe(1);
    expect(pool.add(encoded).status).toBe("pending");
    expect(verifier.calls).toBe(1);
    if (first.status !== "accepted") throw new Error("unreachable");
    expect(pool.isVerified(first.tx.digest)).toBe(true);
    expect(pool.isVerified(first.tx.id)).toBe(false); // by digest, never by id
    pool.removeIds([first.tx.id]);
    expect(pool.size).toBe(0);
    expect(pool.add(encoded).status).toBe("accepted");
    expect(verifier.calls).toBe(1); // remembered as verified
  });

  it("drops what the ledger committed without passing it through (a snapshot install), and nothing else", () => {
    const committed = new Set<string>();
    const { pool } = mempool({ committed });
    const added = [1, 2, 3, 4].map((nonce) => pool.add(tx(nonce)));
    expect(pool.dropCommitted()).toBe(0);
    for (const outcome of [added[0], added[2]]) {
      if (outcome?.status !== "accepted") throw new Error("unreachable");
      committed.add(outcome.tx.idKey);
    }
    expect(pool.dropCommitted()).toBe(2);
    expect(pool.size).toBe(2);
    expect(pool.take({ time: T0, txsMax: 10, bytesMax: 1 << 20 }).map((t) => t.signed.tx.nonce)).toEqual([
      2, 4,
    ]);
    expect(pool.add(tx(1)).status).toBe("committed");
  });

  it("offers waiting transactions again on a doubling schedule, or all at once after a leader change", () => {
    const { pool } = mempool();
    for (const nonce of [1, 2, 3]) pool.add(tx(nonce));
    const schedule = { intervalMs: 1_000, doublingsMax: 2 };
    const nonces = (txs: { signed: { tx: { nonce: number } } }[]) => txs.map((t) => t.signed.tx.nonce);
    expect(nonces(pool.reoffer(T0 + 999, 10, schedule))).toEqual([]);
    expect(nonces(pool.reoffer(T0 + 1_000, 2, schedule))).toEqual([1, 2]); // the limit, oldest first
    expect(nonces(pool.reoffer(T0 + 1_000, 10, schedule))).toEqual([3]);
    expect(nonces(pool.reoffer(T0 + 2_999, 10, schedule))).toEqual([]); // next after 2 x 1 s
    expect(nonces(pool.reoffer(T0 + 3_000, 10, schedule))).toEqual([1, 2, 3]);
    expect(nonces(pool.reoffer(T0 + 6_999, 10, schedule))).toEqual([]); // then 4 s: the cap
    expect(nonces(pool.reoffer(T0 + 7_000, 10, schedule))).toEqual([1, 2, 3]);
    expect(nonces(pool.reoffer(T0 + 10_999, 10, schedule))).toEqual([]);
    expect(nonces(pool.reoffer(T0 + 11_000, 10, schedule))).toEqual([1, 2, 3]); // still 4 s
    expect(nonces(pool.reoffer(T0 + 11_001, 10))).toEqual([1, 2, 3]); // a leader change: all, now
  });

  it("refuses a bad signature, another chain, an expired or too-distant expiry and junk with TX_INVALID", () => {
    const { pool } = mempool();
    const tampered = tx(2);
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1;
    const cases = [
      tampered,
      tx(3, { chain: "other-chain" }),
      tx(4, { expires: T0 - 1 }),
      tx(5, { expires: T0 + 2 * 3_600_000 }),
      new Uint8Array([1, 2, 3]),
    ];
    for (const encoded of cases) {
      expect(() => pool.add(encoded)).toThrowError(expect.objectContaining({ code: "TX_INVALID" }));
    }
    expect(pool.size).toBe(0);
  });

  it("answers MEMPOOL_FULL when full and keeps every accepted transaction", () => {
    const { pool } = mempool({ txsMax: 3 });
    for (let nonce = 0; nonce < 3; nonce++) expect(pool.add(tx(nonce)).status).toBe("accepted");
    let error: unknown;
    try {
      pool.add(tx(99));
    } catch (caught) {
      error = caught;
    }
    expect(hasNodeErrorCode(error, "MEMPOOL_FULL")).toBe(true);
    expect(pool.size).toBe(3);
    expect(pool.take({ time: T0, txsMax: 10, bytesMax: 1 << 20 })).toHaveLength(3);
  });

  it("takes in arrival order within the count and byte limits, and drops only expired ones", () => {
    let now = T0;
    const { pool } = mempool({ now: () => now });
    pool.add(tx(1, { expires: T0 + 1_000 }));
    pool.add(tx(2));
    pool.add(tx(3));
    expect(pool.take({ time: T0, txsMax: 2, bytesMax: 1 << 20 }).map((t) => t.signed.tx.nonce)).toEqual([
      1, 2,
    ]);
    now = T0 + 5_000;
    const taken = pool.take({ time: now, txsMax: 10, bytesMax: 1 << 20 });
    expect(taken.map((t) => t.signed.tx.nonce)).toEqual([2, 3]);
    expect(pool.expiredCount).toBe(1);
    expect(pool.size).toBe(2);
    const oneSize = taken[0]?.encoded.length ?? 0;
    expect(pool.take({ time: now, txsMax: 10, bytesMax: oneSize })).toHaveLength(1);
  });

  it("keeps a forged copy from crowding out the genuine one, and refuses inauthentic copies", () => {
    const patient = signerOf("patient");
    const stranger = signerOf("stranger");
    const unsigned = {
      v: 1 as const,
      chain: CHAIN,
      kind: "patient.register" as const,
      signer: patient.did,
      nonce: 7,
      expires: T0 + 60_000,
      body: {},
    };
    const genuine = encodeSignedTx(signTx(unsigned, [patient]));
    const forged = encodeSignedTx(signTx(unsigned, [{ key: stranger, identity: patient.did }]));
    // Without an authenticity check both copies wait side by side, and a block takes one per id.
    const { pool } = mempool();
    expect(pool.add(forged).status).toBe("accepted");
    expect(pool.add(genuine).status).toBe("accepted");
    expect(pool.size).toBe(2);
    expect(pool.take({ time: T0, txsMax: 10, bytesMax: 1 << 20 })).toHaveLength(1);
    // With the state's check (the key must be the signer's current key) the forged copy is refused.
    const checked = new Mempool({
      chain: CHAIN,
      verifier: nobleVerifier,
      now: () => T0,
      isCommitted: () => false,
      checkAuthenticity: (signed) => (signed.sigs[0]?.key === signed.tx.signer ? null : "key-not-current"),
    });
    expect(() => checked.add(forged)).toThrowError(expect.objectContaining({ code: "TX_INVALID" }));
    expect(checked.add(genuine).status).toBe("accepted");
  });
});
