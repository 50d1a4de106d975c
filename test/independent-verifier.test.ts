// Runs the independent verifier (written from docs/protocol.md alone) over every vector file, checks
// that nothing is skipped, and that self-made mutations are rejected.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  type Check,
  type CheckResult,
  checkBlocks,
  checkKeys,
  checkMerkle,
  checkScenario,
  checkSignatures,
  checkTransactions,
  decodeBlock,
  decodeCanonical,
  decodeDid,
  fromHex,
  Ledger,
  ProtocolError,
  readProofJson,
  runTxStages,
  toHex,
  verifyBlockStructure,
  verifyEd25519,
  verifyInclusion,
} from "./independent-verifier/verify.mjs";

interface Proof {
  index: number;
  size: number;
  path: string[];
}
interface KeysFile {
  keys: { name: string; did: string; publicKey: string }[];
  invalidDids: unknown[];
}
interface SignaturesFile {
  cases: { name: string; publicKey: string; message: string; signature: string; valid: boolean }[];
}
interface TransactionsFile {
  chain: string;
  valid: { name: string; signedCbor: string }[];
  invalid: unknown[];
}
interface MerkleFile {
  trees: { size: number; leaves: string[]; root: string; proofs: Proof[] }[];
  invalid: unknown[];
}
interface ChainBlock {
  height: number;
  blockCbor: string;
  writeLog: string[];
  txs: { proof: Proof; signedCbor: string }[];
  results: { json: { code: string } }[];
}
interface ChainFile {
  genesis: { json: { chain: string; time: number } };
  blocks: ChainBlock[];
}

function load<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../test-vectors/${name}.json`, import.meta.url), "utf8")) as T;
}

const keys = load<KeysFile>("keys");
const signatures = load<SignaturesFile>("signatures");
const transactions = load<TransactionsFile>("transactions");
const merkle = load<MerkleFile>("merkle");
const blocks = load<ChainFile>("blocks");
const scenario = load<ChainFile>("scenario");

const chainCount = (f: ChainFile) => 1 + f.blocks.length + f.blocks.reduce((n, b) => n + b.txs.length, 0);

const files: [string, Check, unknown, number][] = [
  ["keys.json", checkKeys, keys, keys.keys.length + keys.invalidDids.length],
  ["signatures.json", checkSignatures, signatures, signatures.cases.length],
  [
    "transactions.json",
    checkTransactions,
    transactions,
    transactions.valid.length + transactions.invalid.length,
  ],
  [
    "merkle.json",
    checkMerkle,
    merkle,
    merkle.trees.length + merkle.trees.reduce((n, t) => n + t.proofs.length, 0) + merkle.invalid.length,
  ],
  ["blocks.json", checkBlocks, blocks, chainCount(blocks)],
  ["scenario.json", checkScenario, scenario, chainCount(scenario)],
];

const failures = (rs: CheckResult[]) => rs.filter((r) => !r.ok).map((r) => `${r.vector}: ${r.detail}`);
const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

function flip(hex: string, byteIndex: number, mask = 0x01): string {
  const b = fromHex(hex);
  b[byteIndex] = (b[byteIndex] ?? 0) ^ mask;
  return toHex(b);
}

function codeOf(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (e instanceof ProtocolError) return e.code;
    throw e;
  }
}

describe("independent verifier: every vector passes", () => {
  for (const [name, check, json, expected] of files) {
    it(`${name}: ${expected} vectors, all pass`, () => {
      const results = check(json);
      expect(results.length).toBe(expected);
      expect(new Set(results.map((r) => r.vector)).size).toBe(expected);
      expect(failures(results)).toEqual([]);
    });
  }

  it("vector counts are the ones documented (no silent shrinkage of the files)", () => {
    expect(files.map(([n, , , c]) => [n, c])).toEqual([
      ["keys.json", 23],
      ["signatures.json", 36],
      ["transactions.json", 49],
      ["merkle.json", 65],
      ["blocks.json", 13],
      ["scenario.json", 39],
    ]);
  });
});

describe("independent verifier: self-made mutations are rejected", () => {
  it("flipping any byte of a valid signature, message or key rejects it", () => {
    const valid = signatures.cases.filter((c) => c.valid);
    expect(valid.length).toBeGreaterThan(0);
    for (const c of valid) {
      const A = fromHex(c.publicKey);
      const M = fromHex(c.message);
      expect(verifyEd25519(A, M, fromHex(c.signature)).ok).toBe(true);
      for (let i = 0; i < 64; i++) {
        expect(verifyEd25519(A, M, fromHex(flip(c.signature, i))).ok, `${c.name} sig byte ${i}`).toBe(false);
      }
      for (let i = 0; i < 32; i++) {
        expect(verifyEd25519(fromHex(flip(c.publicKey, i)), M, fromHex(c.signature)).ok).toBe(false);
      }
      if (M.length > 0)
        expect(verifyEd25519(A, fromHex(flip(c.message, 0)), fromHex(c.signature)).ok).toBe(false);
    }
  });

  it("flipping any byte of a signed transaction is rejected statelessly, except inside sigs[i >= 1].signer", () => {
    // Section 5.5 binds sigs[0].signer (= tx.signer, inside the id) and every sigs[i].key (the
    // verifying key) but nothing binds sigs[i].signer for i >= 1: such copies pass decode/verify/chain
    // and are refused only by the stateful check of 11.3 (see the next test). README: gap list.
    let unboundMutants = 0;
    for (const v of transactions.valid) {
      const original = runTxStages(fromHex(v.signedCbor), transactions.chain);
      expect(original.stage).toBe("ok");
      const n = v.signedCbor.length / 2;
      for (let i = 0; i < n; i++) {
        const r = runTxStages(fromHex(flip(v.signedCbor, i)), transactions.chain);
        if (r.stage !== "ok") continue;
        unboundMutants++;
        expect(toHex(r.stx!.id), `${v.name} byte ${i}: same id`).toBe(toHex(original.stx!.id));
        const changed = r.stx!.sigs.flatMap((s, k) => {
          const o = original.stx!.sigs[k]!;
          return [
            ...(s.signer !== o.signer ? [`sigs[${k}].signer`] : []),
            ...(s.key !== o.key ? [`sigs[${k}].key`] : []),
            ...(toHex(s.sig) !== toHex(o.sig) ? [`sigs[${k}].sig`] : []),
          ];
        });
        expect(changed.length, `${v.name} byte ${i}`).toBe(1);
        expect(changed[0], `${v.name} byte ${i}`).toMatch(/^sigs\[[1-7]\]\.signer$/);
      }
    }
    // only the two-guardian key.recover has a second signature
    expect(unboundMutants).toBeGreaterThan(0);
  });

  it("a key.recover copy with another sigs[1].signer is refused statefully (key-not-current, nothing written)", () => {
    const ledger = Ledger.genesis(scenario.genesis.json);
    for (const b of scenario.blocks.slice(0, 6)) {
      const d = decodeBlock(fromHex(b.blockCbor));
      ledger.applyBlock(d.header, d.txs);
    }
    const b7 = decodeBlock(fromHex(scenario.blocks[6]!.blockCbor));
    const genuine = b7.txs[1]!;
    expect(genuine.tx.kind).toBe("key.recover");
    const stranger = keys.keys.find((k) => k.name === "member-c")!.did;
    const copy = { ...genuine, sigs: genuine.sigs.map((s, i) => (i === 1 ? { ...s, signer: stranger } : s)) };
    const out = ledger.applyBlock(b7.header, [b7.txs[0]!, copy]);
    expect(out.results.map((r) => r.code)).toEqual(["guardian-threshold-not-met", "key-not-current"]);
    expect(out.log.length).toBe(1); // seen-prune only
  });

  it("flipping a Merkle proof sibling, the index, or the leaf rejects the proof", () => {
    for (const t of merkle.trees) {
      t.proofs.forEach((p, i) => {
        const leaf = fromHex(t.leaves[i] ?? "");
        const root = fromHex(t.root);
        expect(codeOf(() => verifyInclusion(leaf, root, readProofJson(p)))).toBeNull();
        p.path.forEach((h, j) => {
          const bad = { ...p, path: p.path.map((x, k) => (k === j ? flip(h, 31, 0x80) : x)) };
          expect(codeOf(() => verifyInclusion(leaf, root, readProofJson(bad)))).toBe("MERKLE_PROOF_INVALID");
        });
        if (t.size > 1) {
          const other = { ...p, index: (i + 1) % t.size };
          expect(codeOf(() => verifyInclusion(leaf, root, readProofJson(other)))).toBe(
            "MERKLE_PROOF_INVALID",
          );
        }
        expect(
          codeOf(() => verifyInclusion(fromHex(flip(t.leaves[i] ?? "", 0)), root, readProofJson(p))),
        ).toBe("MERKLE_PROOF_INVALID");
      });
    }
  });

  it("section 8's note holds: index 2 of 5 also verifies as size 6, 7 or 8 (size must be trusted)", () => {
    const t = merkle.trees.find((x) => x.size === 5)!;
    const p = t.proofs[2]!;
    const verifiesAs = (size: number) =>
      codeOf(() => verifyInclusion(fromHex(t.leaves[2]!), fromHex(t.root), readProofJson({ ...p, size }))) ===
      null;
    expect([4, 5, 6, 7, 8, 9].filter(verifiesAs)).toEqual([5, 6, 7, 8]);
  });

  it("a block whose proposer signature, header or transaction order is altered is rejected (section 9.5)", () => {
    const first = blocks.blocks[0]!;
    const genesis = { genesis: blocks.genesis.json };
    const bytes = fromHex(first.blockCbor);
    expect(codeOf(() => verifyBlockStructure(decodeBlock(bytes), genesis))).toBeNull();
    // the block signature is the last 64 bytes of `sig` (bytes 58 40 …); find it by value
    const decoded = decodeBlock(bytes);
    const sigHex = toHex(decoded.sig);
    const at = first.blockCbor.indexOf(sigHex) / 2;
    expect(at).toBeGreaterThan(0);
    const badSig = fromHex(flip(first.blockCbor, at + 5));
    expect(codeOf(() => verifyBlockStructure(decodeBlock(badSig), genesis))).toBe("SIGNATURE_INVALID");
    // swap two transactions: txRoot no longer matches
    const swapped = decodeBlock(bytes);
    swapped.txs = [swapped.txs[1]!, swapped.txs[0]!, ...swapped.txs.slice(2)];
    expect(codeOf(() => verifyBlockStructure(swapped, genesis))).toBe("BLOCK_INVALID");
    // another chain's genesis
    expect(
      codeOf(() => verifyBlockStructure(decodeBlock(bytes), { genesis: { chain: "other", time: 0 } })),
    ).toBe("CHAIN_MISMATCH");
    // a block before the genesis time
    expect(
      codeOf(() =>
        verifyBlockStructure(decodeBlock(bytes), {
          genesis: { chain: blocks.genesis.json.chain, time: 2 ** 52 },
        }),
      ),
    ).toBe("BLOCK_INVALID");
  });

  it("a tampered write log, tx proof or expected result makes the chain check fail", () => {
    const log = clone(scenario);
    const b4 = log.blocks[3]!;
    b4.writeLog = b4.writeLog.slice(0, -1); // drop the audit row of the replayed access.log
    expect(failures(checkScenario(log)).some((f) => f.startsWith("scenario/block 4:"))).toBe(true);

    const proof = clone(blocks);
    const tx = proof.blocks[0]!.txs[0]!;
    tx.proof.path[0] = flip(tx.proof.path[0]!, 0);
    expect(failures(checkBlocks(proof)).some((f) => f.startsWith("blocks/block 1:"))).toBe(true);

    const result = clone(scenario);
    result.blocks[8]!.results[0]!.json.code = "consent"; // block 9: the re-signed copy must be refused
    expect(failures(checkScenario(result)).some((f) => f.startsWith("scenario/block 9/tx 0"))).toBe(true);
  });

  it("the canonical CBOR decoder rejects every forbidden form of section 4", () => {
    const bad: [string, string][] = [
      ["empty", ""],
      ["negative integer", "20"],
      ["tag", "c00100"],
      ["undefined", "f7"],
      ["simple value", "f0"],
      ["float16 0", "f90000"],
      ["float64", "fb3ff0000000000000"],
      ["indefinite bytes", "5f41004100ff"],
      ["indefinite array", "9f01ff"],
      ["break", "ff"],
      ["non-shortest int", "1805"],
      ["non-shortest length", "780161"],
      ["above 2^53 - 1", "1b0020000000000000"],
      ["non-text map key", "a10101"],
      ["duplicate key", "a2616101616102"],
      ["unsorted keys", "a2616201616102"],
      ["longer key first", "a26262620161610a"],
      ["__proto__ key", "a1695f5f70726f746f5f5f01"],
      ["invalid UTF-8", "62c328"],
      ["CESU lone surrogate", "63eda080"],
      ["truncated", "6261"],
      ["trailing", "0101"],
    ];
    for (const [why, hex] of bad) {
      expect(
        codeOf(() => decodeCanonical(fromHex(hex))),
        why,
      ).toBe("ENCODING_INVALID");
    }
    // depth: 16 nested arrays around a scalar are allowed, 17 are not
    const nest = (n: number) => "81".repeat(n) + "00";
    expect(codeOf(() => decodeCanonical(fromHex(nest(16))))).toBeNull();
    expect(codeOf(() => decodeCanonical(fromHex(nest(17))))).toBe("ENCODING_INVALID");
    // the size limit is checked before decoding
    expect(codeOf(() => decodeCanonical(fromHex("ff".repeat(9)), 8))).toBe("ENCODING_TOO_LARGE");
    // the example of section 4
    expect(decodeCanonical(fromHex("a3616101616319010062626218 18".replace(" ", "")))).toEqual({
      a: 1,
      c: 256,
      bb: 24,
    });
  });

  it("the did:key full check rejects a too-long string and a flipped character", () => {
    const did = keys.keys[0]!.did;
    expect(toHex(decodeDid(did))).toBe(keys.keys[0]!.publicKey);
    expect(codeOf(() => decodeDid(`${did}${"1".repeat(9)}`))).toBe("DID_INVALID");
    expect(codeOf(() => decodeDid(did.replace("did:key:z", "did:key:Z")))).toBe("DID_INVALID");
    expect(codeOf(() => decodeDid(42))).toBe("DID_INVALID");
  });
});
