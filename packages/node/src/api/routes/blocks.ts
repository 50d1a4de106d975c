/** Committed blocks: one in full, or a bounded page of headers. */
import { blockHash, blockHeaderToJson, blockToJson, toHex, txId } from "@medledger/protocol";
import { Type } from "typebox";
import { api_blocks_page_max } from "../../limits.js";
import type { ApiContext, ApiInstance } from "../context.js";
import { ApiError } from "../errors.js";
import { BlockSchema, BlockSummarySchema, errorResponses } from "../schemas.js";

const HeightSchema = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });

export function blockRoutes(app: ApiInstance, context: ApiContext): void {
  const { ledger } = context.node;

  app.get(
    "/blocks/:height",
    {
      schema: {
        summary: "the committed block at a height, with its transactions, results and ids",
        tags: ["blocks"],
        params: Type.Object({ height: HeightSchema }),
        response: { 200: BlockSchema, ...errorResponses(404) },
      },
    },
    async (request) => {
      const stored = ledger.committedBlock(request.params.height);
      if (stored === null)
        throw new ApiError("BLOCK_NOT_FOUND", `no block at height ${request.params.height}`);
      const json = blockToJson(stored.block);
      return {
        height: stored.block.header.height,
        hash: toHex(blockHash(stored.block.header)),
        ...json,
        ids: stored.block.txs.map((signed) => toHex(txId(signed.tx))),
      };
    },
  );

  app.get(
    "/blocks",
    {
      schema: {
        summary: `a page of block headers from a height (at most ${api_blocks_page_max})`,
        tags: ["blocks"],
        querystring: Type.Object({
          from: Type.Optional(HeightSchema),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: api_blocks_page_max, default: 20 })),
        }),
        response: {
          200: Type.Object({
            blocks: Type.Array(BlockSummarySchema),
            next: Type.Union([Type.Integer(), Type.Null()], { description: "the `from` of the next page" }),
          }),
          ...errorResponses(),
        },
      },
    },
    async (request) => {
      const from = request.query.from ?? 1;
      const limit = request.query.limit ?? 20;
      // Headers only: no block body is read or decompressed for a page.
      const stored = context.node.db.blocks.headerRange(from, from + limit - 1);
      const blocks = stored.map((entry) => ({
        height: entry.header.height,
        hash: toHex(entry.hash),
        time: entry.header.time,
        txCount: entry.txCount,
        header: blockHeaderToJson(entry.header),
      }));
      const last = blocks.at(-1);
      const tip = ledger.status().height;
      const next = last !== undefined && last.height < tip ? last.height + 1 : null;
      return { blocks, next };
    },
  );
}
