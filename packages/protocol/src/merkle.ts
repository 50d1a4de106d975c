/**
 * Merkle trees and inclusion proofs as in RFC 6962 section 2.1 (restated in RFC 9162 section 2.1):
 * leaf hash = sha256(0x00 || leaf), node hash = sha256(0x01 || left || right), a tree of n > 1 leaves
 * splits at the largest power of two below n, and the empty tree's root is sha256(""). The proof of
 * a leaf lists the sibling hashes from the leaf up to the root; verification is RFC 9162 section
 * 2.1.3.2. Proofs are bounded by merkle_proof_depth_max levels.
 */
import { bytesEqual, concatBytes, fromHex, sha256, toHex } from "./bytes.js";
import { readList, readMap, readUint } from "./encoding.js";
import { ProtocolError } from "./errors.js";
import { hash_bytes, merkle_proof_depth_max } from "./limits.js";
import type { Hash } from "./types.js";

/** Most leaves a tree may have so that every proof fits merkle_proof_depth_max. */
export const MERKLE_LEAVES_MAX = 2 ** merkle_proof_depth_max;
const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

/** An inclusion proof: the leaf's index, the tree's size and the sibling hashes from the leaf up. */
export interface MerkleProof {
  index: number;
  size: number;
  path: Hash[];
}

/** The JSON view of a MerkleProof (hashes as lowercase hex). */
export interface MerkleProofJson {
  index: number;
  size: number;
  path: string[];
}

/** The hash of a leaf: sha256(0x00 || leaf). */
export function merkleLeafHash(leaf: Uint8Array): Hash {
  return sha256(concatBytes(LEAF_PREFIX, leaf));
}

/** The hash of an inner node: sha256(0x01 || left || right). */
export function merkleNodeHash(left: Hash, right: Hash): Hash {
  return sha256(concatBytes(NODE_PREFIX, left, right));
}

/** The root of the tree over `leaves` (sha256("") when there are none). */
export function merkleRoot(leaves: readonly Uint8Array[]): Hash {
  checkTreeSize(leaves.length);
  if (leaves.length === 0) return sha256(new Uint8Array(0));
  return subtreeRoot(leaves.map(merkleLeafHash), 0, leaves.length);
}

/** The inclusion proof of leaf `index` in the tree over `leaves`. */
export function merkleProof(leaves: readonly Uint8Array[], index: number): MerkleProof {
  checkTreeSize(leaves.length);
  if (!Number.isSafeInteger(index) || index < 0 || index >= leaves.length) {
    throw new ProtocolError("MERKLE_PROOF_INVALID", `leaf ${index} is not in a tree of ${leaves.length}`);
  }
  const hashes = leaves.map(merkleLeafHash);
  const path: Hash[] = [];
  collectPath(hashes, 0, hashes.length, index, path);
  return { index, size: leaves.length, path };
}

/** Throws MERKLE_PROOF_INVALID unless `proof` shows that `leaf` is in the tree whose root is `root`. */
export function verifyMerkleProof(options: { root: Hash; leaf: Uint8Array; proof: MerkleProof }): void {
  const { root, leaf, proof } = options;
  checkProofShape(proof);
  let index = proof.index;
  let last = proof.size - 1;
  let hash = merkleLeafHash(leaf);
  for (const sibling of proof.path) {
    if (last === 0) throw proofError("the proof is longer than the tree is deep");
    if (index % 2 === 1 || index === last) {
      hash = merkleNodeHash(sibling, hash);
      while (index % 2 === 0 && index !== 0) {
        index = Math.floor(index / 2);
        last = Math.floor(last / 2);
      }
    } else {
      hash = merkleNodeHash(hash, sibling);
    }
    index = Math.floor(index / 2);
    last = Math.floor(last / 2);
  }
  if (last !== 0) throw proofError("the proof is shorter than the tree is deep");
  if (!bytesEqual(hash, root)) throw proofError("the proof does not lead to the root");
}

/** True when `proof` shows that `leaf` is in the tree whose root is `root`. */
export function isValidMerkleProof(options: { root: Hash; leaf: Uint8Array; proof: MerkleProof }): boolean {
  try {
    verifyMerkleProof(options);
    return true;
  } catch {
    return false;
  }
}

/** The JSON view of a proof. */
export function merkleProofToJson(proof: MerkleProof): MerkleProofJson {
  checkProofShape(proof);
  return { index: proof.index, size: proof.size, path: proof.path.map(toHex) };
}

/** The proof of a JSON view; throws FIELD_* or MERKLE_PROOF_INVALID on a malformed one. */
export function merkleProofFromJson(json: unknown): MerkleProof {
  const record = readMap(json, "proof", { required: ["index", "size", "path"] });
  const proof: MerkleProof = {
    index: readUint(record.index, "proof.index"),
    size: readUint(record.size, "proof.size"),
    path: readList(record.path, "proof.path", merkle_proof_depth_max).map((hex, position) =>
      fromHex(hex, { field: `proof.path[${position}]`, length: hash_bytes }),
    ),
  };
  checkProofShape(proof);
  return proof;
}

function checkTreeSize(size: number): void {
  if (size > MERKLE_LEAVES_MAX) throw proofError(`a tree has at most ${MERKLE_LEAVES_MAX} leaves`);
}

function checkProofShape(proof: MerkleProof): void {
  if (
    typeof proof !== "object" ||
    proof === null ||
    !Number.isSafeInteger(proof.size) ||
    !Number.isSafeInteger(proof.index) ||
    proof.size < 1 ||
    proof.size > MERKLE_LEAVES_MAX ||
    proof.index < 0 ||
    proof.index >= proof.size ||
    !Array.isArray(proof.path) ||
    proof.path.length > merkle_proof_depth_max ||
    !proof.path.every((hash) => hash instanceof Uint8Array && hash.length === hash_bytes)
  ) {
    throw proofError("a proof has 0 <= index < size <= 2^depth and at most depth 32-byte hashes");
  }
}

/** The largest power of two strictly below `n` (n >= 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function subtreeRoot(hashes: readonly Hash[], start: number, end: number): Hash {
  if (end - start === 1) return hashes[start] as Hash;
  const middle = start + splitPoint(end - start);
  return merkleNodeHash(subtreeRoot(hashes, start, middle), subtreeRoot(hashes, middle, end));
}

function collectPath(hashes: readonly Hash[], start: number, end: number, index: number, path: Hash[]): void {
  if (end - start === 1) return;
  const middle = start + splitPoint(end - start);
  if (index < middle) {
    collectPath(hashes, start, middle, index, path);
    path.push(subtreeRoot(hashes, middle, end));
  } else {
    collectPath(hashes, middle, end, index, path);
    path.push(subtreeRoot(hashes, start, middle));
  }
}

function proofError(message: string): ProtocolError {
  return new ProtocolError("MERKLE_PROOF_INVALID", message);
}
