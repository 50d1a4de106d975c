/**
 * The gossip payload: a batch of encoded signed transactions with a random salt. gossipsub names a
 * message by the hash of its bytes and drops one it has seen, so without the salt a node could never
 * offer the same transactions again (after a leader change, or when an earlier offer was lost).
 *
 *   payload = CBOR [1, salt (8 random bytes), [tx, ...]]
 */
import { decode, encode } from "cborg";
import { NodeError } from "../errors.js";
import { gossip_batch_txs_max } from "./limits.js";

/** Version of the gossip batch format. */
export const GOSSIP_BATCH_VERSION = 1;
const SALT_BYTES = 8;

/** Encodes a batch of encoded signed transactions (at most gossip_batch_txs_max). */
export function encodeGossipBatch(txs: readonly Uint8Array[]): Uint8Array {
  if (txs.length > gossip_batch_txs_max) {
    throw new NodeError(
      "NODE_INVARIANT",
      `a gossip batch holds at most ${gossip_batch_txs_max} transactions`,
    );
  }
  const salt = globalThis.crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  return encode([GOSSIP_BATCH_VERSION, salt, txs]);
}

/** The transactions of a gossip payload; throws WIRE_INVALID on anything else. */
export function decodeGossipBatch(payload: Uint8Array): Uint8Array[] {
  let value: unknown;
  try {
    value = decode(payload, { strict: true, useMaps: false, allowUndefined: false });
  } catch (cause) {
    throw new NodeError("WIRE_INVALID", "a gossip batch is not valid CBOR", { cause });
  }
  if (!Array.isArray(value) || value.length !== 3 || value[0] !== GOSSIP_BATCH_VERSION) {
    throw new NodeError("WIRE_INVALID", "a gossip batch is [1, salt, txs]");
  }
  const [, salt, txs] = value as [unknown, unknown, unknown];
  if (!(salt instanceof Uint8Array) || salt.length !== SALT_BYTES) {
    throw new NodeError("WIRE_INVALID", "a gossip batch's salt is 8 bytes");
  }
  if (
    !Array.isArray(txs) ||
    txs.length > gossip_batch_txs_max ||
    !txs.every((tx) => tx instanceof Uint8Array)
  ) {
    throw new NodeError(
      "WIRE_INVALID",
      `a gossip batch carries at most ${gossip_batch_txs_max} byte strings`,
    );
  }
  return txs as Uint8Array[];
}
