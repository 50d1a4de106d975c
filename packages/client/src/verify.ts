/**
 * Local checks of what a node answers, with the protocol's own functions: that a committed transaction
 * is in its block (the RFC 6962 proof leads from its signed encoding to the header's txRoot), that the
 * header hashes to the block hash the node named, that the leaf is the transaction with the id asked
 * about, and that a block's header is signed by its proposer's key. Whether that proposer was a voting
 * node of the consortium at that height needs the membership history, which this client does not keep.
 */
import {
  type BlockHeader,
  blockHash,
  blockHeaderFromJson,
  decodeSignedTxWithId,
  fromHex,
  isProtocolError,
  merkleProofFromJson,
  nobleVerifier,
  toHex,
  type Verifier,
  verifyBlockHeaderSignature,
  verifyMerkleProof,
} from "@medledger/protocol";
import { clientError } from "./errors.js";
import type { BlockDetail, CommittedTxDetail, TxDetail } from "./types.js";

/** What a verified inclusion establishes. */
export interface VerifiedInclusion {
  /** The transaction id (hex), recomputed from the leaf. */
  readonly id: string;
  readonly height: number;
  readonly txIndex: number;
  /** The block hash, recomputed from the header. */
  readonly blockHash: string;
  readonly header: BlockHeader;
}

/**
 * Verifies a GET /txs/{id} answer locally; throws CLIENT_PROOF_INVALID when the transaction is not
 * committed, the leaf is not the transaction `answer.id`, the proof does not lead to the header's
 * txRoot, or the header does not hash to `answer.blockHash`.
 */
export function verifyInclusion(answer: TxDetail): VerifiedInclusion {
  const committed = requireCommitted(answer);
  return proofError(() => {
    const header = blockHeaderFromJson(committed.header);
    const leaf = fromHex(committed.encoded);
    const id = toHex(decodeSignedTxWithId(leaf).id);
    if (id !== committed.id) throw new Error(`the leaf is transaction ${id}, not ${committed.id}`);
    if (header.height !== committed.height) {
      throw new Error(`the header is of height ${header.height}, not ${committed.height}`);
    }
    const proof = merkleProofFromJson(committed.proof);
    if (proof.index !== committed.txIndex) {
      throw new Error(`the proof is for leaf ${proof.index}, not ${committed.txIndex}`);
    }
    verifyMerkleProof({ root: header.txRoot, leaf, proof });
    const hash = toHex(blockHash(header));
    if (hash !== committed.blockHash)
      throw new Error(`the header hashes to ${hash}, not ${committed.blockHash}`);
    return { id, height: header.height, txIndex: committed.txIndex, blockHash: hash, header };
  });
}

/**
 * Verifies a GET /blocks/{height} answer's header: it hashes to `block.hash`, is at `block.height`, and
 * `sig` is its proposer's signature. Throws CLIENT_PROOF_INVALID.
 */
export function verifyBlockHeader(block: BlockDetail, verifier: Verifier = nobleVerifier): BlockHeader {
  return proofError(() => {
    const header = blockHeaderFromJson(block.header);
    if (header.height !== block.height) throw new Error(`the header is of height ${header.height}`);
    const hash = toHex(blockHash(header));
    if (hash !== block.hash) throw new Error(`the header hashes to ${hash}, not ${block.hash}`);
    verifyBlockHeaderSignature(header, fromHex(block.sig, { length: 64 }), verifier);
    return header;
  });
}

function requireCommitted(answer: TxDetail): CommittedTxDetail {
  const missing = (["height", "txIndex", "encoded", "proof", "blockHash", "header"] as const).filter(
    (name) => answer[name] === undefined,
  );
  if (answer.status !== "committed" || missing.length > 0) {
    throw clientError(
      "CLIENT_PROOF_INVALID",
      answer.status !== "committed"
        ? `transaction ${answer.id} is ${answer.status}, not committed: nothing to verify`
        : `the answer lacks ${missing.join(", ")}`,
      { tx: answer.id },
    );
  }
  return answer as CommittedTxDetail;
}

function proofError<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw clientError("CLIENT_PROOF_INVALID", `inclusion does not verify: ${message}`, {
      ...(isProtocolError(error) ? { reason: error.code } : {}),
      cause: error,
    });
  }
}
