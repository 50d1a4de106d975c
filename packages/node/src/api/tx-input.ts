/**
 * Turning a transaction from the API (its JSON view or `{ encoded }`) into its canonical encoding, and
 * submitting it with every failure mapped to a stable API code. The node-side checks the mempool makes
 * again (chain, liveness) are made here first so the answer carries the protocol's reason code.
 */
import {
  decodeSignedTxWithId,
  encodeSignedTx,
  fromHex,
  type Hash,
  isProtocolError,
  isTxLive,
  REASON_CODES,
  type SignedTx,
  type TxResult,
  toHex,
  txFromJson,
  txId,
  txResultToJson,
} from "@medledger/protocol";
import { isNodeError } from "../errors.js";
import type { CommittedTx } from "../ledger/store.js";
import type { ApiContext } from "./context.js";
import { ApiError } from "./errors.js";

/** A transaction as the API received it. */
export type TxInput = { encoded: string } | { tx: unknown; sigs: unknown };

/** A decoded transaction. */
export interface ParsedTx {
  readonly signed: SignedTx;
  readonly id: Hash;
  readonly idHex: string;
  readonly encoded: Uint8Array;
}

/** Decodes `input`; throws 400 TX_INVALID with the protocol code as `reason`. */
export function parseTxInput(input: TxInput, field = "body"): ParsedTx {
  try {
    if ("encoded" in input) {
      const encoded = fromHex(input.encoded.toLowerCase(), { field: `${field}.encoded` });
      const { signed, id } = decodeSignedTxWithId(encoded);
      return { signed, id, idHex: toHex(id), encoded };
    }
    const signed = txFromJson(input);
    const id = txId(signed.tx);
    return { signed, id, idHex: toHex(id), encoded: encodeSignedTx(signed) };
  } catch (error) {
    if (isProtocolError(error)) {
      throw new ApiError("TX_INVALID", error.message, {
        reason: error.code,
        ...(error.field === undefined ? {} : { field: `${field}.${error.field}` }),
      });
    }
    throw error;
  }
}

/** The answer of a submission. */
export type Submitted = { status: "pending" } | { status: "committed"; committed: CommittedTx };

/** Submits `parsed` to the ledger (idempotent by id); throws TX_INVALID, MEMPOOL_FULL or NODE_UNAVAILABLE. */
export function submitTx(context: ApiContext, parsed: ParsedTx): Submitted {
  const { ledger } = context.node;
  const chain = context.state.getChain()?.chain;
  if (chain !== undefined && parsed.signed.tx.chain !== chain) {
    throw new ApiError("TX_INVALID", `the transaction is for chain ${parsed.signed.tx.chain}`, {
      reason: "chain-mismatch",
    });
  }
  const committedBefore = ledger.committedTx(parsed.id);
  if (committedBefore !== null) return { status: "committed", committed: committedBefore };
  const now = context.now();
  if (!isTxLive(parsed.signed.tx, now)) {
    const reason = parsed.signed.tx.expires < now ? "tx-expired" : "tx-expires-too-far";
    throw new ApiError("TX_INVALID", REASON_CODES[reason], { reason });
  }
  try {
    const outcome = ledger.submit(parsed.encoded, { signed: parsed.signed, id: parsed.id });
    if (outcome.status === "accepted") context.metrics.trackSubmit(parsed.idHex);
    if (outcome.status === "committed") {
      const committed = ledger.committedTx(parsed.id);
      if (committed !== null) return { status: "committed", committed };
    }
    return { status: "pending" };
  } catch (error) {
    throw submitError(error);
  }
}

/** Waits up to `timeoutMs` for `parsed` to commit; null on timeout. */
export async function waitCommitted(
  context: ApiContext,
  parsed: ParsedTx,
  timeoutMs: number,
): Promise<CommittedTx | null> {
  try {
    return await context.node.ledger.waitForTx(parsed.id, timeoutMs);
  } catch (error) {
    if (isNodeError(error) && error.code === "NETWORK_TIMEOUT") return null;
    throw error;
  }
}

function submitError(error: unknown): unknown {
  if (!isNodeError(error)) return error;
  switch (error.code) {
    case "TX_INVALID": {
      const cause = error.cause;
      const prefix = error.message.split(":")[0] ?? "";
      const reason = isProtocolError(cause) ? cause.code : prefix in REASON_CODES ? prefix : "TX_INVALID";
      return new ApiError("TX_INVALID", error.message, { reason });
    }
    case "MEMPOOL_FULL":
      return new ApiError("MEMPOOL_FULL", error.message, { retryAfterSeconds: 1 });
    case "STORAGE_FULL":
      return new ApiError("STORAGE_FULL", error.message, { retryAfterSeconds: 5 });
    case "NOT_STARTED":
    case "LEDGER_DIVERGED":
      return new ApiError("NODE_UNAVAILABLE", "the node is not running");
    default:
      return error;
  }
}

/** The JSON of a committed result. */
export function resultJson(result: TxResult): ReturnType<typeof txResultToJson> {
  return txResultToJson(result);
}
