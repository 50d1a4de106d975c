// Goal: block headers hash and sign as documented, blocks encode strictly and losslessly, and
// verifyBlockStructure refuses every broken chaining, root, signature or transaction rule.
// Method: a small chain of hand-built blocks, one targeted corruption per rule, a JSON round trip.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BLOCK_SIGNING_PREFIX,
  blockFromJson,
  blockHash,
  blockHeaderFromJson,
  blockHeaderToJson,
  blockToJson,
  computeResultRoot,
  computeTxRoot,
  decodeBlock,
  decodeBlockHeader,
  decodeBlockParts,
  decodeTxResult,
  encodeBlock,
  encodeBlockHeader,
  encodeBlockWithTxs,
  encodeTxResult,
  GENESIS_PREV_HASH,
  signBlockHeader,
  verifyBlockContents,
  verifyBlockHeaderSignature,
  verifyBlockStructure,
} from "../src/block.js";
import { concatBytes, sha256, toHex } from "../src/bytes.js";
import { isProtocolError } from "../src/errors.js";
import { block_bytes_max, block_txs_max } from "../src/limits.js";
import { merkleProof, merkleRoot, verifyMerkleProof } from "../src/merkle.js";
import { createNodeVerifier, nodeVerifier } from "../src/node.js";
import { nobleVerifier, type Verifier } from "../src/signer.js";
import { encodeSignedTx, signedTxDigest, signTx, txId } from "../src/tx.js";
import type { Block, BlockHeader, SignedTx, TxResult } from "../src/types.js";
import {
  CHAIN,
  grantTx,
  guardian,
  patient,
  proposer,
  provider,
  registerTx,
  TIME,
  unsigned,
} from "./fixtures.js";

const genesis = { chain: CHAIN, time: TIME - 1000 };

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

/** A verifier that records the public key of every signature it is asked about. */
function countingVerifier(): Verifier & { keys: string[] } {
  const keys: string[] = [];
  return {
    name: "counting",
    keys,
    verify(publicKey, message, signature) {
      keys.push(toHex(publicKey));
      return nodeVerifier.verify(publicKey, message, signature);
    },
  };
}

function makeBlock(options: {
  previous?: BlockHeader;
  txs: SignedTx[];
  results?: TxResult[];
  time?: number;
  edit?: (header: BlockHeader) => void;
}): Block {
  const results = options.results ?? options.txs.map((): TxResult => ({ status: "ok", code: "ok" }));
  const header: BlockHeader = {
    v: 1,
    chain: CHAIN,
    height: options.previous === undefined ? 1 : options.previous.height + 1,
    prev: options.previous === undefined ? GENESIS_PREV_HASH : blockHash(options.previous),
    time: options.time ?? TIME,
    proposer: proposer.did,
    txRoot: computeTxRoot(options.txs),
    resultRoot: computeResultRoot(results),
    appHash: sha256(new Uint8Array([1])),
    raftTerm: 1,
    raftIndex: options.previous === undefined ? 5 : options.previous.raftIndex + 1,
  };
  options.edit?.(header);
  return { header, sig: signBlockHeader(header, proposer), txs: options.txs, results };
}

const first = makeBlock({
  txs: [registerTx(), grantTx()],
  results: [
    { status: "ok", code: "ok" },
    {
      status: "rejected",
      code: "no-consent",
      decision: "denied",
      cites: new Uint8Array(32).fill(9),
      flagged: true,
    },
  ],
});
const second = makeBlock({ previous: first.header, txs: [registerTx(3)], time: TIME + 10 });

describe("headers", () => {
  it("hash is sha256 of the canonical header; the signature covers prefix || hash", () => {
    const bytes = encodeBlockHeader(first.header);
    expect(toHex(blockHash(first.header))).toBe(toHex(sha256(bytes)));
    expect(decodeBlockHeader(bytes)).toEqual(first.header);
    const payload = concatBytes(BLOCK_SIGNING_PREFIX, blockHash(first.header));
    expect(nobleVerifier.verify(proposer.publicKey, payload, first.sig)).toBe(true);
    verifyBlockHeaderSignature(first.header, first.sig, nobleVerifier);
    expectCode(
      () => verifyBlockHeaderSignature({ ...first.header, time: TIME + 1 }, first.sig, nodeVerifier),
      "SIGNATURE_INVALID",
    );
    expectCode(() => signBlockHeader(first.header, patient), "FIELD_INVALID");
  });

  it("headers reject height 0, short hashes and unknown fields", () => {
    expectCode(() => encodeBlockHeader({ ...first.header, height: 0 }), "FIELD_INVALID");
    expectCode(() => encodeBlockHeader({ ...first.header, prev: new Uint8Array(31) }), "FIELD_INVALID");
    expectCode(() => encodeBlockHeader({ ...first.header, extra: 1 } as BlockHeader), "FIELD_UNKNOWN");
  });
});

describe("results and blocks", () => {
  it("results round trip, optional fields included", () => {
    for (const result of first.results) expect(decodeTxResult(encodeTxResult(result))).toEqual(result);
    expectCode(() => encodeTxResult({ status: "maybe" } as unknown as TxResult), "FIELD_MISSING");
    expectCode(() => encodeTxResult({ status: "maybe", code: "x" } as unknown as TxResult), "FIELD_INVALID");
    expectCode(() => encodeTxResult({ status: "ok", code: "x".repeat(65) }), "FIELD_TOO_LARGE");
    expectCode(
      () => encodeTxResult({ status: "ok", code: "x", decision: "perhaps" } as unknown as TxResult),
      "FIELD_INVALID",
    );
  });

  it("blocks round trip through bytes and JSON losslessly", () => {
    const bytes = encodeBlock(first);
    expect(decodeBlock(bytes)).toEqual(first);
    const json = JSON.parse(JSON.stringify(blockToJson(first)));
    expect(blockFromJson(json)).toEqual(first);
    expect(blockHeaderFromJson(blockHeaderToJson(first.header))).toEqual(first.header);
    expect(toHex(encodeBlock(blockFromJson(json)))).toBe(toHex(bytes));
  });

  it("a block needs one result per transaction and at most block_txs_max of them", () => {
    expectCode(() => encodeBlock({ ...first, results: first.results.slice(1) }), "FIELD_INVALID");
    const many = Array(block_txs_max + 1).fill(first.txs[0]);
    expectCode(
      () => encodeBlock({ ...first, txs: many, results: Array(many.length).fill(first.results[0]) }),
      "FIELD_TOO_LARGE",
    );
    expectCode(() => decodeBlock(new Uint8Array(block_bytes_max + 1)), "ENCODING_TOO_LARGE");
  });

  it("any transaction of a block is provable against txRoot", () => {
    const leaves = first.txs.map(encodeSignedTx);
    expect(toHex(merkleRoot(leaves))).toBe(toHex(first.header.txRoot));
    leaves.forEach((leaf, index) => {
      verifyMerkleProof({ root: first.header.txRoot, leaf, proof: merkleProof(leaves, index) });
    });
  });
});

describe("blocks from and to their parts", () => {
  const many = makeBlock({
    txs: Array.from({ length: 300 }, (_, index) => registerTx(index + 1)),
    results: Array.from(
      { length: 300 },
      (_, index): TxResult =>
        index % 7 === 0
          ? {
              status: "rejected",
              code: "no-consent",
              decision: "denied",
              cites: new Uint8Array(32).fill(index % 250),
              flagged: true,
            }
          : { status: "ok", code: "ok" },
    ),
  });

  it("encodeBlockWithTxs assembles exactly encodeBlock's bytes (0, 1, 23, 24, 255, 256 and 300 txs)", () => {
    for (const count of [0, 1, 23, 24, 255, 256, 300]) {
      const block = { ...many, txs: many.txs.slice(0, count), results: many.results.slice(0, count) };
      const expected = encodeBlock(block);
      expect(toHex(encodeBlockWithTxs(block, block.txs.map(encodeSignedTx))), `${count} txs`).toBe(
        toHex(expected),
      );
    }
    expectCode(
      () => encodeBlockWithTxs({ ...first, sig: new Uint8Array(3) }, first.txs.map(encodeSignedTx)),
      "FIELD_INVALID",
    );
  });

  it("decodeBlockParts slices each transaction's encoding and id out of the block's bytes", () => {
    for (const block of [first, second, many]) {
      const bytes = encodeBlock(block);
      const parts = decodeBlockParts(bytes);
      expect(parts.block).toEqual(decodeBlock(bytes));
      expect(parts.txEncodings.map(toHex)).toEqual(block.txs.map((tx) => toHex(encodeSignedTx(tx))));
      expect(parts.ids.map(toHex)).toEqual(block.txs.map((tx) => toHex(txId(tx.tx))));
      const verifier = countingVerifier();
      expect(verifyBlockContents(parts.block, verifier, { parts }).map(toHex)).toEqual(parts.ids.map(toHex));
      expect(verifyBlockContents(parts.block, nodeVerifier).map(toHex)).toEqual(parts.ids.map(toHex));
    }
  });

  it("with known transactions (a mempool), decodeBlockParts gives the same block and refuses the same bytes (property)", () => {
    const bytes = encodeBlock(many);
    const plain = decodeBlockParts(bytes);
    const byDigest = new Map(
      plain.txEncodings.map((encoding, index) => [
        toHex(signedTxDigest(encoding)),
        { signed: plain.block.txs[index] as SignedTx, id: plain.ids[index] as Uint8Array },
      ]),
    );
    for (const share of [0, 0.5, 1]) {
      const known = (digest: Uint8Array) =>
        Number.parseInt(toHex(digest).slice(0, 2), 16) / 256 < share
          ? byDigest.get(toHex(digest))
          : undefined;
      const fast = decodeBlockParts(bytes, known);
      expect(fast.block).toEqual(plain.block);
      expect(fast.ids.map(toHex)).toEqual(plain.ids.map(toHex));
      expect(fast.txEncodings.map(toHex)).toEqual(plain.txEncodings.map(toHex));
      expect(fast.digests?.map(toHex)).toEqual(
        plain.txEncodings.map((encoding) => toHex(signedTxDigest(encoding))),
      );
    }
    const small = encodeBlock(first);
    const outcome = (run: () => unknown): string => {
      try {
        return JSON.stringify(run(), (_key, value) => (value instanceof Uint8Array ? toHex(value) : value));
      } catch (error) {
        expect(isProtocolError(error), String(error)).toBe(true);
        return "refused";
      }
    };
    fc.assert(
      fc.property(fc.nat(small.length - 1), fc.nat(255), fc.boolean(), (at, byte, cut) => {
        const mutated = cut ? small.slice(0, at) : small.slice();
        if (!cut) mutated[at] = byte;
        const slow = outcome(() => {
          const parts = decodeBlockParts(mutated);
          return { block: parts.block, ids: parts.ids };
        });
        const fast = outcome(() => {
          const parts = decodeBlockParts(mutated, () => undefined);
          return { block: parts.block, ids: parts.ids };
        });
        expect(fast).toBe(slow);
      }),
      { numRuns: 3000 },
    );
  });

  it("a block whose bytes are not canonical is refused before any slicing", () => {
    const bytes = encodeBlock(first);
    const padded = concatBytes(bytes, Uint8Array.of(0));
    expectCode(() => decodeBlockParts(padded), "ENCODING_INVALID");
  });
});

describe("verifyBlockStructure", () => {
  const verifiers: Verifier[] = [nodeVerifier, nobleVerifier];

  it("accepts a well-formed chain with either verifier and returns the ids", () => {
    for (const verifier of verifiers) {
      const ids = verifyBlockStructure(first, genesis, verifier);
      expect(ids.map(toHex)).toEqual(first.txs.map((tx) => toHex(txId(tx.tx))));
      verifyBlockStructure(second, first.header, verifier);
    }
  });

  it("skips signatures of signed transactions the caller already verified, by digest", () => {
    const original = registerTx(3);
    const counting = countingVerifier();
    const block = makeBlock({ previous: first.header, txs: [original], time: TIME + 10 });
    const known = toHex(signedTxDigest(encodeSignedTx(original)));
    const isVerified = (digest: Uint8Array) => toHex(digest) === known;
    verifyBlockStructure(block, first.header, counting, { isVerified });
    expect(counting.keys).toEqual([toHex(proposer.publicKey)]); // only the proposer's signature
  });

  it("verifies a copy of a verified transaction that carries other signatures (same id)", () => {
    const original = registerTx(3);
    const known = toHex(signedTxDigest(encodeSignedTx(original)));
    const isVerified = (digest: Uint8Array) => toHex(digest) === known;
    const corrupted: SignedTx = {
      ...original,
      sigs: [{ ...original.sigs[0]!, sig: new Uint8Array(64).fill(1) }],
    };
    const resigned = signTx(original.tx, [{ key: guardian, identity: patient.did }]);
    for (const copy of [corrupted, resigned]) {
      expect(toHex(txId(copy.tx))).toBe(toHex(txId(original.tx)));
      expect(toHex(signedTxDigest(encodeSignedTx(copy)))).not.toBe(known);
    }
    const bad = makeBlock({ previous: first.header, txs: [corrupted], time: TIME + 10 });
    expectCode(
      () => verifyBlockStructure(bad, first.header, nodeVerifier, { isVerified }),
      "SIGNATURE_INVALID",
    );
    // Valid under another key: it passes the stateless check, but only after being verified; the rules
    // then reject it as key-not-current (rules.test.ts, "censorship by re-signing").
    const counting = countingVerifier();
    const copied = makeBlock({ previous: first.header, txs: [resigned], time: TIME + 10 });
    verifyBlockStructure(copied, first.header, counting, { isVerified });
    expect(counting.keys).toEqual([toHex(guardian.publicKey), toHex(proposer.publicKey)]);
  });

  it("signedTxDigest is sha256 of the canonical signed encoding", () => {
    const bytes = encodeSignedTx(registerTx(3));
    expect(toHex(signedTxDigest(bytes))).toBe(toHex(sha256(bytes)));
  });

  const broken: [string, () => Block, BlockHeader | typeof genesis, string][] = [
    [
      "another chain",
      () =>
        makeBlock({
          txs: [],
          edit: (h) => {
            h.chain = "other";
          },
        }),
      genesis,
      "CHAIN_MISMATCH",
    ],
    [
      "height 2 after genesis",
      () =>
        makeBlock({
          txs: [],
          edit: (h) => {
            h.height = 2;
          },
        }),
      genesis,
      "BLOCK_INVALID",
    ],
    [
      "non-zero prev at height 1",
      () =>
        makeBlock({
          txs: [],
          edit: (h) => {
            h.prev = new Uint8Array(32).fill(1);
          },
        }),
      genesis,
      "BLOCK_INVALID",
    ],
    [
      "a skipped height",
      () =>
        makeBlock({
          previous: first.header,
          txs: [],
          time: TIME + 10,
          edit: (h) => {
            h.height += 1;
          },
        }),
      first.header,
      "BLOCK_INVALID",
    ],
    [
      "a wrong prev hash",
      () =>
        makeBlock({
          previous: first.header,
          txs: [],
          time: TIME + 10,
          edit: (h) => {
            h.prev = sha256(h.prev);
          },
        }),
      first.header,
      "BLOCK_INVALID",
    ],
    [
      "time going back",
      () => makeBlock({ previous: first.header, txs: [], time: TIME - 1 }),
      first.header,
      "BLOCK_INVALID",
    ],
    [
      "a Raft index going back",
      () =>
        makeBlock({
          previous: first.header,
          txs: [],
          time: TIME + 10,
          edit: (h) => {
            h.raftIndex = 5;
          },
        }),
      first.header,
      "BLOCK_INVALID",
    ],
    [
      "a wrong txRoot",
      () =>
        makeBlock({
          txs: [registerTx()],
          edit: (h) => {
            h.txRoot = sha256(h.txRoot);
          },
        }),
      genesis,
      "BLOCK_INVALID",
    ],
    [
      "a wrong resultRoot",
      () =>
        makeBlock({
          txs: [registerTx()],
          edit: (h) => {
            h.resultRoot = sha256(h.resultRoot);
          },
        }),
      genesis,
      "BLOCK_INVALID",
    ],
    ["a transaction twice", () => makeBlock({ txs: [registerTx(), registerTx()] }), genesis, "BLOCK_INVALID"],
    [
      "an expired transaction",
      () => makeBlock({ txs: [registerTx()], time: TIME + 120_000 }),
      genesis,
      "BLOCK_INVALID",
    ],
    [
      "a transaction of another chain",
      () => makeBlock({ txs: [signTx(unsigned("patient.register", {}, { chain: "other" }), [patient])] }),
      genesis,
      "CHAIN_MISMATCH",
    ],
    [
      "a bad proposer signature",
      () => ({ ...makeBlock({ txs: [] }), sig: new Uint8Array(64) }),
      genesis,
      "SIGNATURE_INVALID",
    ],
    [
      "a proposer that did not sign",
      () => {
        const b = makeBlock({ txs: [] });
        return { ...b, header: { ...b.header, proposer: provider.did } };
      },
      genesis,
      "SIGNATURE_INVALID",
    ],
  ];
  for (const [what, build, previous, code] of broken) {
    it(`rejects ${what} with ${code}`, () =>
      expectCode(() => verifyBlockStructure(build(), previous, createNodeVerifier()), code));
  }
});
