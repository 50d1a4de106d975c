/** Submitting transactions and reading their status with a Merkle inclusion proof. */
import {
  blockHash,
  blockHeaderToJson,
  encodeSignedTx,
  fromHex,
  merkleProof,
  merkleProofToJson,
  toHex,
  txToJson,
} from "@medledger/protocol";
import { Type } from "typebox";
import { api_batch_body_bytes_max, api_batch_txs_max, api_wait_timeout_max_ms } from "../../limits.js";
import type { ApiContext, ApiInstance } from "../context.js";
import { ApiError, isApiError } from "../errors.js";
import {
  BatchItemSchema,
  EncodedTxSchema,
  errorResponses,
  HashHex,
  TxDetailSchema,
  TxInputSchema,
  TxStatusSchema,
} from "../schemas.js";
import {
  type ParsedTx,
  parseTxInput,
  resultJson,
  type Submitted,
  submitTx,
  type TxInput,
  waitCommitted,
} from "../tx-input.js";

const SubmitQuerySchema = Type.Object({
  wait: Type.Optional(Type.Boolean({ default: false, description: "wait for the commit" })),
  timeoutMs: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: api_wait_timeout_max_ms,
      default: 10_000,
      description: "how long to wait",
    }),
  ),
});

export function txRoutes(app: ApiInstance, context: ApiContext): void {
  const { ledger } = context.node;

  app.post(
    "/txs",
    {
      schema: {
        summary: "submit a signed transaction (idempotent by id)",
        description:
          "202 while pending, 200 once committed (with its result). With wait=true the answer comes at the commit or after timeoutMs (then 202).",
        tags: ["txs"],
        body: TxInputSchema,
        querystring: SubmitQuerySchema,
        response: { 200: TxStatusSchema, 202: TxStatusSchema, ...errorResponses() },
      },
    },
    async (request, reply) => {
      const parsed = parseTxInput(request.body as TxInput);
      let submitted = submitTx(context, parsed);
      if (submitted.status === "pending" && request.query.wait === true) {
        const committed = await waitCommitted(context, parsed, request.query.timeoutMs ?? 10_000);
        if (committed !== null) submitted = { status: "committed", committed };
      }
      if (submitted.status === "pending")
        return reply.code(202).send({ id: parsed.idHex, status: "pending" });
      const { committed } = submitted;
      return reply.code(200).send({
        id: parsed.idHex,
        status: "committed",
        height: committed.height,
        txIndex: committed.txIndex,
        result: resultJson(committed.result),
      });
    },
  );

  app.post(
    "/txs/batch",
    {
      bodyLimit: api_batch_body_bytes_max,
      schema: {
        summary: `submit up to ${api_batch_txs_max} signed transactions in one request (each idempotent by id)`,
        description:
          "Answers one item per transaction, in order: pending, committed (with its result) or refused (with the error a single POST /txs would give); one refused transaction does not affect the others. With wait=true the answer comes once every accepted transaction is committed, or after timeoutMs.",
        tags: ["txs"],
        body: Type.Object(
          { txs: Type.Array(EncodedTxSchema, { minItems: 1, maxItems: api_batch_txs_max }) },
          { additionalProperties: false },
        ),
        querystring: SubmitQuerySchema,
        response: { 200: Type.Object({ items: Type.Array(BatchItemSchema) }), ...errorResponses() },
      },
    },
    async (request) => {
      const outcomes = request.body.txs.map((input, index): BatchOutcome => {
        try {
          const parsed = parseTxInput(input, `txs[${index}]`);
          return { parsed, submitted: submitTx(context, parsed) };
        } catch (error) {
          if (!isApiError(error) || error.statusCode >= 500) throw error;
          return { error };
        }
      });
      if (request.query.wait === true) {
        const timeoutMs = request.query.timeoutMs ?? 10_000;
        await Promise.all(
          outcomes.map(async (outcome) => {
            if (!("parsed" in outcome) || outcome.submitted.status !== "pending") return;
            const committed = await waitCommitted(context, outcome.parsed, timeoutMs);
            if (committed !== null) outcome.submitted = { status: "committed", committed };
          }),
        );
      }
      return { items: outcomes.map(batchItem) };
    },
  );

  app.get(
    "/txs/:id",
    {
      schema: {
        summary:
          "a transaction's status; when committed, with a Merkle inclusion proof against its block's txRoot",
        description:
          "Verify offline: verifyMerkleProof({ root: header.txRoot, leaf: encoded (hex-decoded), proof }) and blockHash(header) === blockHash.",
        tags: ["txs"],
        params: Type.Object({ id: HashHex }),
        response: { 200: TxDetailSchema, ...errorResponses() },
      },
    },
    async (request) => {
      const id = fromHex(request.params.id, { length: 32 });
      const committed = ledger.committedTx(id);
      if (committed === null) {
        const status = ledger.mempool.has(id) ? ("pending" as const) : ("unknown" as const);
        return { id: request.params.id, status };
      }
      const stored = ledger.committedBlock(committed.height);
      if (stored === null) throw new ApiError("INTERNAL", "a committed transaction's block is missing");
      const leaves = stored.block.txs.map((signed) => encodeSignedTx(signed));
      const signed = stored.block.txs[committed.txIndex];
      if (signed === undefined) throw new ApiError("INTERNAL", "a committed transaction is not in its block");
      return {
        id: request.params.id,
        status: "committed" as const,
        height: committed.height,
        txIndex: committed.txIndex,
        result: resultJson(committed.result),
        tx: txToJson(signed),
        encoded: toHex(leaves[committed.txIndex] as Uint8Array),
        proof: merkleProofToJson(merkleProof(leaves, committed.txIndex)),
        blockHash: toHex(blockHash(stored.block.header)),
        header: blockHeaderToJson(stored.block.header),
      };
    },
  );
}

/** One transaction of a batch: submitted (and maybe committed), or refused with its error. */
type BatchOutcome = { parsed: ParsedTx; submitted: Submitted } | { error: ApiError };

function batchItem(outcome: BatchOutcome) {
  if ("error" in outcome) {
    const { code, message, details } = outcome.error;
    const { reason, field } = details;
    return {
      status: "refused" as const,
      error: {
        code,
        message,
        ...(typeof reason === "string" ? { reason } : {}),
        ...(typeof field === "string" ? { field } : {}),
      },
    };
  }
  const { parsed, submitted } = outcome;
  if (submitted.status === "pending") return { id: parsed.idHex, status: "pending" as const };
  const { committed } = submitted;
  return {
    id: parsed.idHex,
    status: "committed" as const,
    height: committed.height,
    txIndex: committed.txIndex,
    result: resultJson(committed.result),
  };
}
