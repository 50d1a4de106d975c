// Goal: Merkle roots and inclusion proofs follow RFC 6962 / RFC 9162 exactly, and every tampered
// proof is refused. Method: a naive reference of RFC 6962's recursive definition, proofs for every
// leaf of trees of size 1..70, targeted tampering, and a property over random trees and mutations.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { concatBytes, sha256, toHex, utf8 } from "../src/bytes.js";
import { isProtocolError } from "../src/errors.js";
import { merkle_proof_depth_max } from "../src/limits.js";
import {
  isValidMerkleProof,
  type MerkleProof,
  merkleProof,
  merkleProofFromJson,
  merkleProofToJson,
  merkleRoot,
  verifyMerkleProof,
} from "../src/merkle.js";

/** RFC 6962 section 2.1's MTH, written as the RFC states it. */
function referenceRoot(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return sha256(new Uint8Array(0));
  if (leaves.length === 1) return sha256(concatBytes(Uint8Array.of(0), leaves[0]!));
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha256(
    concatBytes(Uint8Array.of(1), referenceRoot(leaves.slice(0, k)), referenceRoot(leaves.slice(k))),
  );
}

const leavesOf = (size: number) => Array.from({ length: size }, (_, index) => utf8(`leaf ${index}`));

function expectProofInvalid(action: () => unknown): void {
  try {
    action();
  } catch (error) {
    expect(isProtocolError(error)).toBe(true);
    expect((error as { code: string }).code).toBe("MERKLE_PROOF_INVALID");
    return;
  }
  throw new Error("expected MERKLE_PROOF_INVALID");
}

describe("Merkle roots", () => {
  it("the empty tree's root is sha256('')", () => {
    expect(toHex(merkleRoot([]))).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });

  it("matches the RFC 6962 definition for sizes 0..70", () => {
    for (let size = 0; size <= 70; size++) {
      expect(toHex(merkleRoot(leavesOf(size)))).toBe(toHex(referenceRoot(leavesOf(size))));
    }
  });

  it("leaf and node hashes are domain separated (a node cannot pose as a leaf)", () => {
    const leaves = leavesOf(2);
    const inner = concatBytes(
      sha256(concatBytes(Uint8Array.of(0), leaves[0]!)),
      sha256(concatBytes(Uint8Array.of(0), leaves[1]!)),
    );
    expect(toHex(merkleRoot([inner]))).not.toBe(toHex(merkleRoot(leaves)));
  });
});

describe("inclusion proofs", () => {
  it("every leaf of every tree of size 1..70 proves, and fails for a wrong leaf, index, size, path or root", () => {
    for (let size = 1; size <= 70; size++) {
      const leaves = leavesOf(size);
      const root = merkleRoot(leaves);
      for (let index = 0; index < size; index++) {
        const proof = merkleProof(leaves, index);
        verifyMerkleProof({ root, leaf: leaves[index]!, proof });
        expect(isValidMerkleProof({ root, leaf: utf8("other"), proof })).toBe(false);
        if (size > 1) {
          expect(
            isValidMerkleProof({
              root,
              leaf: leaves[index]!,
              proof: { ...proof, index: (index + 1) % size },
            }),
          ).toBe(false);
        }
        // (A size that keeps the path's shape, e.g. 3 for 4, still leads to the same root: the size is not
        // authenticated by the path, only the root is. A size the index does not fit in is refused.)
        expect(isValidMerkleProof({ root, leaf: leaves[index]!, proof: { ...proof, size: index } })).toBe(
          false,
        );
        if (size > 2) {
          expect(
            isValidMerkleProof({ root, leaf: leaves[index]!, proof: { ...proof, size: 2 * size } }),
          ).toBe(false);
        }
        expect(isValidMerkleProof({ root: sha256(root), leaf: leaves[index]!, proof })).toBe(false);
        for (let level = 0; level < proof.path.length; level++) {
          const path = proof.path.map((hash) => hash.slice());
          path[level]![0] = (path[level]![0] as number) ^ 1;
          expect(isValidMerkleProof({ root, leaf: leaves[index]!, proof: { ...proof, path } })).toBe(false);
        }
        expect(
          isValidMerkleProof({
            root,
            leaf: leaves[index]!,
            proof: { ...proof, path: [...proof.path, root] },
          }),
        ).toBe(false);
        if (proof.path.length > 0) {
          expect(
            isValidMerkleProof({
              root,
              leaf: leaves[index]!,
              proof: { ...proof, path: proof.path.slice(1) },
            }),
          ).toBe(false);
        }
      }
    }
  });

  it("malformed proofs are MERKLE_PROOF_INVALID", () => {
    const leaves = leavesOf(5);
    const root = merkleRoot(leaves);
    const proof = merkleProof(leaves, 2);
    const malformed: MerkleProof[] = [
      { ...proof, index: -1 },
      { ...proof, index: 5 },
      { ...proof, size: 0 },
      { ...proof, index: 0.5 },
      { ...proof, path: [new Uint8Array(31), ...proof.path.slice(1)] },
      { ...proof, path: Array(merkle_proof_depth_max + 1).fill(new Uint8Array(32)) },
    ];
    for (const bad of malformed)
      expectProofInvalid(() => verifyMerkleProof({ root, leaf: leaves[2]!, proof: bad }));
    expectProofInvalid(() => merkleProof(leaves, 5));
  });

  it("random trees and random proof edits: only the genuine proof verifies (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 8 }), { minLength: 1, maxLength: 40 }),
        fc.nat(),
        fc.nat(),
        (leaves, pick, edit) => {
          const index = pick % leaves.length;
          const root = merkleRoot(leaves);
          const proof = merkleProof(leaves, index);
          expect(isValidMerkleProof({ root, leaf: leaves[index]!, proof })).toBe(true);
          const otherIndex = edit % leaves.length;
          if (toHex(leaves[otherIndex]!) !== toHex(leaves[index]!)) {
            expect(isValidMerkleProof({ root, leaf: leaves[otherIndex]!, proof })).toBe(false);
          }
        },
      ),
    );
  });

  it("the JSON form round trips and is validated", () => {
    const leaves = leavesOf(13);
    const proof = merkleProof(leaves, 7);
    const json = JSON.parse(JSON.stringify(merkleProofToJson(proof)));
    expect(merkleProofFromJson(json)).toEqual(proof);
    verifyMerkleProof({ root: merkleRoot(leaves), leaf: leaves[7]!, proof: merkleProofFromJson(json) });
    expect(() => merkleProofFromJson({ ...json, path: ["zz"] })).toThrow(/hex/);
    expectProofInvalid(() => merkleProofFromJson({ ...json, index: 13 }));
    expect(() => merkleProofFromJson({ ...json, extra: 1 })).toThrow(/known field/);
  });
});
