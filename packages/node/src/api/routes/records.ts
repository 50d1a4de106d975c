/**
 * Records in this node's vault. POST stores a record and commits its anchor; GET discloses it only after
 * the reader's access.log is committed with a permitting decision (audit before disclosure): the only
 * response that carries vault bytes is built after that check (POST's idempotency check reads the vault
 * but compares metadata only and returns none of it).
 */
import { type AccessLogBody, bytesEqual, type RecordAnchorBody, sha256, toHex } from "@medledger/protocol";
import { Type } from "typebox";
import { hasNodeErrorCode } from "../../errors.js";
import type { CommittedTx } from "../../ledger/store.js";
import { api_access_log_reuse_max_ms, api_commit_wait_ms, api_record_body_bytes_max } from "../../limits.js";
import type { VaultRecordMeta } from "../../vault/types.js";
import type { ApiContext, ApiInstance, RecordVault } from "../context.js";
import { ApiError } from "../errors.js";
import {
  CategorySchema,
  DecisionSchema,
  errorResponses,
  HashHex,
  RecordIdSchema,
  TxInputSchema,
  TxResultSchema,
} from "../schemas.js";
import {
  type ParsedTx,
  parseTxInput,
  resultJson,
  submitTx,
  type TxInput,
  waitCommitted,
} from "../tx-input.js";

/** The header that carries the reader's signed access.log (hex of its canonical encoding). */
export const ACCESS_LOG_HEADER = "x-medledger-access-log";

const Base64Schema = Type.String({
  pattern: "^[A-Za-z0-9+/]*={0,2}$",
  maxLength: api_record_body_bytes_max,
  description: "the record's bytes in base64",
});

const StoredSchema = Type.Object({
  id: HashHex,
  status: Type.Literal("committed"),
  record: Type.String(),
  height: Type.Integer(),
  txIndex: Type.Integer(),
  result: TxResultSchema,
});

const PendingSchema = Type.Object({ id: HashHex, status: Type.Literal("pending"), record: Type.String() });

const DisclosedSchema = Type.Object({
  record: Type.String(),
  patient: Type.String(),
  category: CategorySchema,
  format: Type.String(),
  contentHash: HashHex,
  content: Base64Schema,
  decision: DecisionSchema,
  code: Type.String({ description: "the rule's reason code (consent, emergency)" }),
  cites: Type.Union([HashHex, Type.Null()]),
  accessLog: HashHex,
  height: Type.Integer({ description: "the block that committed the access.log" }),
});

export function recordRoutes(app: ApiInstance, context: ApiContext): void {
  const storing = new Set<string>();
  /** Anchors whose commit a POST stopped waiting for: discarded from the vault if later rejected. */
  const awaited = new Map<string, string>();
  context.node.ledger.onBlock((applied) => {
    if (awaited.size === 0) return;
    applied.ids.forEach((id, index) => {
      const record = awaited.get(toHex(id));
      if (record === undefined) return;
      awaited.delete(toHex(id));
      if (applied.outcome.results[index]?.status === "rejected") context.vault?.discard(record);
    });
  });

  app.post(
    "/records",
    {
      bodyLimit: api_record_body_bytes_max,
      schema: {
        summary: "store a record in this node's vault and commit its anchor",
        description:
          "The anchor's signer must be an active provider of this node's member; sha256(content) must be the anchor's contentHash. 201 once the anchor is committed; 202 if it is still pending after the wait (the content stays, and is discarded if the anchor is later rejected).",
        tags: ["records"],
        body: Type.Object({ anchor: TxInputSchema, content: Base64Schema }, { additionalProperties: false }),
        response: {
          201: StoredSchema,
          202: PendingSchema,
          ...errorResponses(403, 409, 413, 422, 504),
        },
      },
    },
    async (request, reply) => {
      const vault = requireVault(context);
      const parsed = parseTxInput(request.body.anchor as TxInput, "anchor");
      const anchor = anchorBody(context, parsed);
      const content = Buffer.from(request.body.content, "base64");
      if (!bytesEqual(sha256(content), anchor.contentHash)) {
        throw new ApiError("CONTENT_HASH_MISMATCH", "sha256 of the content is not the anchor's contentHash");
      }
      const existing = context.state.getRecord(anchor.record);
      if (existing !== null && !bytesEqual(existing.anchorTx, parsed.id)) {
        throw new ApiError(
          "RECORD_EXISTS",
          `record ${anchor.record} is already anchored by another transaction`,
        );
      }
      if (storing.has(anchor.record))
        throw new ApiError("RECORD_BUSY", `record ${anchor.record} is being stored`);
      storing.add(anchor.record);
      try {
        putOnce(vault, { ...anchor, record: anchor.record }, content, existing !== null);
        const committed = await commit(context, vault, parsed, anchor.record);
        if (committed === null) {
          awaited.set(parsed.idHex, anchor.record);
          return reply.code(202).send({ id: parsed.idHex, status: "pending", record: anchor.record });
        }
        if (committed.result.status === "rejected") {
          if (existing === null) vault.discard(anchor.record);
          throw new ApiError("TX_REJECTED", `the anchor was rejected: ${committed.result.code}`, {
            reason: committed.result.code,
            tx: parsed.idHex,
          });
        }
        return reply.code(201).send({
          id: parsed.idHex,
          status: "committed",
          record: anchor.record,
          height: committed.height,
          txIndex: committed.txIndex,
          result: resultJson(committed.result),
        });
      } finally {
        storing.delete(anchor.record);
      }
    },
  );

  app.get(
    "/records/:id",
    {
      schema: {
        summary: "read a record after its access.log is committed as permitted (audit before disclosure)",
        description: `Auth: a request signed by a provider, with header ${ACCESS_LOG_HEADER}: the hex encoding of that provider's signed access.log for this record. The node submits it, waits for its commit, and discloses only on a permitted or emergency decision.`,
        tags: ["records"],
        params: Type.Object({ id: RecordIdSchema }),
        headers: Type.Object({
          [ACCESS_LOG_HEADER]: Type.Optional(Type.String({ maxLength: 16_384 })),
        }),
        response: { 200: DisclosedSchema, ...errorResponses(401, 403, 404, 410, 504) },
      },
    },
    async (request) => {
      const vault = requireVault(context);
      const principal = context.auth.authenticate(request);
      if (principal.kind !== "signed") {
        throw new ApiError("FORBIDDEN", "a record is disclosed only to a provider's signed request");
      }
      const record = request.params.id;
      const header = request.headers[ACCESS_LOG_HEADER];
      const parsed = accessLog(typeof header === "string" ? header : undefined, principal.signer, record);
      const anchor = context.state.getRecord(record);
      const member = context.member();
      if (anchor === null || member === null || anchor.holder !== member) {
        throw new ApiError("RECORD_NOT_HELD_HERE", `this node does not hold record ${record}`);
      }
      // Even a read of an erased record is logged first: an access attempt never vanishes from the audit.
      const submitted = submitTx(context, parsed);
      const committed =
        submitted.status === "committed"
          ? submitted.committed
          : await waitCommitted(context, parsed, api_commit_wait_ms);
      if (committed === null) {
        throw new ApiError("COMMIT_TIMEOUT", "the access.log is not committed yet: retry the same request", {
          tx: parsed.idHex,
        });
      }
      if (context.state.getRecord(record)?.erased === true) {
        throw new ApiError("GONE", `record ${record} was erased`, {
          decision: committed.result.decision ?? "rejected",
          reason: committed.result.code,
          tx: parsed.idHex,
        });
      }
      const decision = permittedDecision(context, committed, parsed, submitted.status === "committed");
      const lookup = vault.get(record); // the only read of plaintext: after the permitting commit above
      if (lookup.state === "erased") throw new ApiError("GONE", `record ${record} was erased`);
      if (lookup.state === "absent") {
        throw new ApiError("RECORD_NOT_HELD_HERE", `this node's vault does not hold record ${record}`);
      }
      return {
        record,
        patient: lookup.meta.patient,
        category: lookup.meta.category,
        format: lookup.meta.format,
        contentHash: toHex(lookup.meta.contentHash),
        content: Buffer.from(lookup.plaintext).toString("base64"),
        decision: decision.decision,
        code: committed.result.code,
        cites: committed.result.cites === undefined ? null : toHex(committed.result.cites),
        accessLog: parsed.idHex,
        height: committed.height,
      };
    },
  );
}

function requireVault(context: ApiContext): RecordVault {
  if (context.vault === null) throw new ApiError("NO_VAULT", "this node runs without a vault");
  return context.vault;
}

/** The anchor's body, after checking that its signer is an active provider of this node's member. */
function anchorBody(context: ApiContext, parsed: ParsedTx): RecordAnchorBody {
  if (parsed.signed.tx.kind !== "record.anchor") {
    throw new ApiError("TX_INVALID", "the anchor must be a record.anchor transaction", {
      reason: "kind-mismatch",
      field: "anchor.tx.kind",
    });
  }
  const member = context.member();
  const provider = context.state.getIdentity(parsed.signed.tx.signer);
  if (
    member === null ||
    provider === null ||
    provider.role !== "provider" ||
    provider.status !== "active" ||
    provider.member !== member
  ) {
    throw new ApiError(
      "NOT_HOLDER_PROVIDER",
      "the anchor's signer is not an active provider of this node's member",
    );
  }
  return parsed.signed.tx.body as RecordAnchorBody;
}

/** Stores the content unless this very content is already there (a retry); throws RECORD_EXISTS otherwise. */
function putOnce(vault: RecordVault, meta: VaultRecordMeta, content: Uint8Array, anchored: boolean): void {
  const lookup = vault.get(meta.record);
  if (lookup.state === "present" && sameMeta(lookup.meta, meta)) return;
  if (lookup.state !== "absent") {
    throw new ApiError("RECORD_EXISTS", `the vault already holds (or erased) record ${meta.record}`);
  }
  if (anchored) throw new ApiError("RECORD_EXISTS", `record ${meta.record} is anchored but not held here`);
  try {
    vault.put(meta, content);
  } catch (error) {
    if (hasNodeErrorCode(error, "VAULT_TOO_LARGE"))
      throw new ApiError("BODY_TOO_LARGE", "the record is too large");
    if (hasNodeErrorCode(error, "VAULT_RECORD_EXISTS")) {
      throw new ApiError("RECORD_EXISTS", `the vault already holds record ${meta.record}`);
    }
    throw error;
  }
}

function sameMeta(a: VaultRecordMeta, b: VaultRecordMeta): boolean {
  return (
    a.patient === b.patient &&
    a.category === b.category &&
    a.format === b.format &&
    bytesEqual(a.contentHash, b.contentHash)
  );
}

/** Submits the anchor and waits for it; a refused submission discards the stored content. */
async function commit(
  context: ApiContext,
  vault: RecordVault,
  parsed: ParsedTx,
  record: string,
): Promise<CommittedTx | null> {
  let submitted: ReturnType<typeof submitTx>;
  try {
    submitted = submitTx(context, parsed);
  } catch (error) {
    if (context.state.getRecord(record) === null) vault.discard(record);
    throw error;
  }
  if (submitted.status === "committed") return submitted.committed;
  return waitCommitted(context, parsed, api_commit_wait_ms);
}

/** The reader's access.log from the header: decoded, by the request's signer, for this record. */
function accessLog(header: string | undefined, signer: string, record: string): ParsedTx {
  if (header === undefined || !/^([0-9a-fA-F]{2})+$/.test(header)) {
    throw new ApiError(
      "ACCESS_LOG_INVALID",
      `send the hex encoding of your access.log in ${ACCESS_LOG_HEADER}`,
      {
        field: ACCESS_LOG_HEADER,
      },
    );
  }
  let parsed: ParsedTx;
  try {
    parsed = parseTxInput({ encoded: header }, ACCESS_LOG_HEADER);
  } catch (error) {
    if (error instanceof ApiError) {
      throw new ApiError("ACCESS_LOG_INVALID", error.message, {
        field: ACCESS_LOG_HEADER,
        ...(error.details.reason === undefined ? {} : { reason: error.details.reason }),
      });
    }
    throw error;
  }
  const { tx } = parsed.signed;
  const body = tx.body as AccessLogBody;
  if (tx.kind !== "access.log" || tx.signer !== signer || body.record !== record) {
    throw new ApiError(
      "ACCESS_LOG_INVALID",
      "the header must carry an access.log signed by the request's signer for this record",
      { field: ACCESS_LOG_HEADER },
    );
  }
  return parsed;
}

/** The committed decision when it permits disclosure; throws ACCESS_DENIED or ACCESS_LOG_EXPIRED. */
function permittedDecision(
  context: ApiContext,
  committed: CommittedTx,
  parsed: ParsedTx,
  committedBefore: boolean,
): { decision: "permitted" | "emergency" } {
  const { result } = committed;
  const decision = result.decision;
  if (result.status !== "ok" || (decision !== "permitted" && decision !== "emergency")) {
    throw new ApiError("ACCESS_DENIED", `the access was ${decision ?? "rejected"}: ${result.code}`, {
      decision: decision ?? "rejected",
      reason: result.code,
      tx: parsed.idHex,
    });
  }
  if (committedBefore) {
    const block = context.node.ledger.committedBlock(committed.height);
    const age = context.now() - (block?.block.header.time ?? 0);
    if (age > api_access_log_reuse_max_ms) {
      throw new ApiError(
        "ACCESS_LOG_EXPIRED",
        "the access.log was committed too long ago: log the access anew",
        {
          tx: parsed.idHex,
        },
      );
    }
  }
  return { decision };
}
