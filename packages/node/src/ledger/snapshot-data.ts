/**
 * What a Raft snapshot carries in this ledger: not the state itself (that moves in chunks over the
 * request channel) but where the state stood when the snapshot was taken.
 */
import { decode, encode } from "cborg";
import { NodeError } from "../errors.js";
import type { StateTip } from "./store.js";

/** Encodes the tip a snapshot was taken at. */
export function encodeSnapshotData(tip: StateTip): Uint8Array {
  return encode([tip.height, tip.blockHash, tip.appHash, tip.appliedIndex]);
}

/** Decodes the tip carried by a snapshot; throws WIRE_INVALID on anything else. */
export function decodeSnapshotData(data: Uint8Array): StateTip {
  let value: unknown;
  try {
    value = decode(data, { strict: true, useMaps: false });
  } catch (cause) {
    throw new NodeError("WIRE_INVALID", "snapshot data is not valid CBOR", { cause });
  }
  if (!Array.isArray(value) || value.length !== 4)
    throw new NodeError("WIRE_INVALID", "snapshot data is a 4-list");
  const [height, blockHash, appHash, appliedIndex] = value as unknown[];
  if (!isUint(height) || !isUint(appliedIndex) || !isHash(blockHash) || !isHash(appHash)) {
    throw new NodeError("WIRE_INVALID", "snapshot data holds a height, two hashes and an index");
  }
  return { height, blockHash, appHash, appliedIndex };
}

function isUint(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function isHash(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === 32;
}
