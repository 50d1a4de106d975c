/**
 * TypeBox schemas of every body, parameter, query and response of the API. Responses are serialized
 * from them (fast-json-stringify), so a field missing here never leaves the node.
 */
import { CATEGORIES, type Category, PURPOSES, type Purpose } from "@medledger/protocol";
import { type TSchema, Type } from "typebox";
import { API_ERROR_CODES } from "./errors.js";

/** A did:key of an ed25519 key (base58btc, at most 64 characters). */
export const DidSchema = Type.String({
  pattern: "^did:key:z[1-9A-HJ-NP-Za-km-z]+$",
  maxLength: 64,
  description: "a did:key",
});
/** 32 bytes as lowercase hex (ids, hashes). */
export const HashHex = Type.String({ pattern: "^[0-9a-f]{64}$", description: "32 bytes, lowercase hex" });
/** Bytes as hex (either case on input). */
export const HexBytes = Type.String({ pattern: "^([0-9a-fA-F]{2})*$", maxLength: 32_768 });
/** A record id (1 to 128 characters). */
export const RecordIdSchema = Type.String({ minLength: 1, maxLength: 128 });
export const CategorySchema = Type.Unsafe<Category>(
  Type.String({ enum: [...CATEGORIES], description: "a data category" }),
);
export const PurposeSchema = Type.Unsafe<Purpose>(
  Type.String({ enum: [...PURPOSES], description: "an HL7 PurposeOfUse code" }),
);
export const DecisionSchema = Type.Union([
  Type.Literal("permitted"),
  Type.Literal("emergency"),
  Type.Literal("denied"),
]);

/** The error body every failure answers with. */
export const ErrorSchema = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: "a stable code" }),
      message: Type.String(),
      field: Type.Optional(Type.String()),
      reason: Type.Optional(Type.String()),
      decision: Type.Optional(Type.String()),
      tx: Type.Optional(Type.String()),
    }),
  },
  { $id: "Error", description: `error codes: ${Object.keys(API_ERROR_CODES).join(", ")}` },
);

/** Responses for the error statuses a route may answer (plus the ones every route may answer). */
export function errorResponses(...statuses: number[]): Record<number, TSchema> {
  const all = new Set([400, 429, 500, 503, ...statuses]);
  return Object.fromEntries([...all].sort().map((status) => [status, Type.Ref("Error")]));
}

/** The JSON view of a signed transaction (see @medledger/protocol txToJson). */
export const SignedTxJsonSchema = Type.Object(
  {
    tx: Type.Object({
      v: Type.Literal(1),
      chain: Type.String({ maxLength: 64 }),
      kind: Type.String({ maxLength: 64 }),
      signer: Type.String({ maxLength: 64 }),
      nonce: Type.Integer({ minimum: 0 }),
      expires: Type.Integer({ minimum: 0 }),
      body: Type.Unknown(),
    }),
    sigs: Type.Array(
      Type.Object({
        signer: Type.String({ maxLength: 64 }),
        key: Type.String({ maxLength: 64 }),
        sig: Type.String({ maxLength: 128 }),
      }),
      { maxItems: 8 },
    ),
  },
  { $id: "SignedTxJson", description: "the JSON view of a signed transaction" },
);

/** A signed transaction as its canonical encoding in hex. */
export const EncodedTxSchema = Type.Object(
  { encoded: Type.String({ pattern: "^([0-9a-fA-F]{2})+$", maxLength: 16_384 }) },
  { additionalProperties: false, description: "a signed transaction's canonical CBOR encoding in hex" },
);

/** A signed transaction in either form. */
export const TxInputSchema = Type.Union([Type.Ref("SignedTxJson"), EncodedTxSchema]);

export const TxResultSchema = Type.Object({
  status: Type.Union([Type.Literal("ok"), Type.Literal("rejected")]),
  code: Type.String(),
  decision: Type.Optional(DecisionSchema),
  cites: Type.Optional(HashHex),
  flagged: Type.Optional(Type.Boolean()),
});

export const BlockHeaderSchema = Type.Object(
  {
    v: Type.Literal(1),
    chain: Type.String(),
    height: Type.Integer(),
    prev: HashHex,
    time: Type.Integer(),
    proposer: Type.String(),
    txRoot: HashHex,
    resultRoot: HashHex,
    appHash: HashHex,
    raftTerm: Type.Integer(),
    raftIndex: Type.Integer(),
  },
  { $id: "BlockHeader" },
);

export const TxStatusSchema = Type.Object({
  id: HashHex,
  status: Type.Union([Type.Literal("pending"), Type.Literal("committed"), Type.Literal("unknown")]),
  height: Type.Optional(Type.Integer()),
  txIndex: Type.Optional(Type.Integer()),
  result: Type.Optional(TxResultSchema),
});

/** One item's answer in a batch: its status, or the error that refused it (others are unaffected). */
export const BatchItemSchema = Type.Object({
  id: Type.Optional(HashHex),
  status: Type.Union([Type.Literal("pending"), Type.Literal("committed"), Type.Literal("refused")]),
  height: Type.Optional(Type.Integer()),
  txIndex: Type.Optional(Type.Integer()),
  result: Type.Optional(TxResultSchema),
  error: Type.Optional(
    Type.Object({
      code: Type.String(),
      message: Type.String(),
      reason: Type.Optional(Type.String()),
      field: Type.Optional(Type.String()),
    }),
  ),
});

export const TxProofSchema = Type.Object({
  index: Type.Integer(),
  size: Type.Integer(),
  path: Type.Array(HashHex),
});

export const TxDetailSchema = Type.Object({
  id: HashHex,
  status: Type.Union([Type.Literal("pending"), Type.Literal("committed"), Type.Literal("unknown")]),
  height: Type.Optional(Type.Integer()),
  txIndex: Type.Optional(Type.Integer()),
  result: Type.Optional(TxResultSchema),
  tx: Type.Optional(Type.Ref("SignedTxJson")),
  encoded: Type.Optional(Type.String({ description: "the signed encoding in hex: the Merkle leaf" })),
  proof: Type.Optional(TxProofSchema),
  blockHash: Type.Optional(HashHex),
  header: Type.Optional(Type.Ref("BlockHeader")),
});

export const BlockSchema = Type.Object({
  height: Type.Integer(),
  hash: HashHex,
  header: Type.Ref("BlockHeader"),
  sig: Type.String(),
  txs: Type.Array(Type.Ref("SignedTxJson")),
  results: Type.Array(TxResultSchema),
  ids: Type.Array(HashHex),
});

export const BlockSummarySchema = Type.Object({
  height: Type.Integer(),
  hash: HashHex,
  time: Type.Integer(),
  txCount: Type.Integer(),
  header: Type.Ref("BlockHeader"),
});

/** A cursor into a patient's consents or audit trail: "<height>:<txIndex>". */
export const CursorSchema = Type.String({ pattern: "^[0-9]{1,15}:[0-9]{1,6}$" });

export const ConsentSchema = Type.Object({
  id: HashHex,
  patient: Type.String(),
  grantee: Type.String(),
  categories: Type.Array(Type.String()),
  records: Type.Array(Type.String()),
  purposes: Type.Array(Type.String()),
  notBefore: Type.Integer(),
  expires: Type.Integer(),
  revokedAt: Type.Union([Type.Integer(), Type.Null()]),
  height: Type.Integer(),
  txIndex: Type.Integer(),
});

export const AuditSchema = Type.Object({
  tx: HashHex,
  height: Type.Integer(),
  txIndex: Type.Integer(),
  time: Type.Integer(),
  provider: Type.String(),
  patient: Type.String(),
  category: Type.String(),
  record: Type.Union([Type.String(), Type.Null()]),
  purpose: Type.String(),
  decision: DecisionSchema,
  code: Type.String(),
  cites: Type.Union([HashHex, Type.Null()]),
  flagged: Type.Boolean(),
});

export const PageQuerySchema = Type.Object({
  after: Type.Optional(CursorSchema),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
});
