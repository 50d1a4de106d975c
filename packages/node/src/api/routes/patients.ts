/** A patient's consents and audit trail (signed request by the patient, or the admin token), and the access check. */
import { type AuditRow, type ConsentRow, checkAccess, type Position, toHex } from "@medledger/protocol";
import { Type } from "typebox";
import type { ApiContext, ApiInstance } from "../context.js";
import {
  AuditSchema,
  CategorySchema,
  ConsentSchema,
  CursorSchema,
  DecisionSchema,
  DidSchema,
  errorResponses,
  HashHex,
  PageQuerySchema,
  PurposeSchema,
  RecordIdSchema,
} from "../schemas.js";

const AUTH_DESCRIPTION =
  "Auth: a request signed by the patient (signature, signature-input, content-digest headers) or `Authorization: Bearer <admin token>`.";

function pageResponse(item: ReturnType<typeof Type.Object>) {
  return Type.Object({
    items: Type.Array(item),
    next: Type.Union([CursorSchema, Type.Null()], { description: "the `after` of the next page" }),
  });
}

export function patientRoutes(app: ApiInstance, context: ApiContext): void {
  const params = Type.Object({ did: DidSchema });

  app.get(
    "/patients/:did/consents",
    {
      schema: {
        summary: "a page of the patient's consents (every state), in grant order",
        description: AUTH_DESCRIPTION,
        tags: ["patients"],
        params,
        querystring: PageQuerySchema,
        response: { 200: pageResponse(ConsentSchema), ...errorResponses(401, 403) },
      },
    },
    async (request) => {
      context.auth.authorizePatient(request, request.params.did);
      const page = context.state.consentsOfPatient(request.params.did, pageRequest(request.query));
      return { items: page.items.map(consentJson), next: cursor(page.next) };
    },
  );

  app.get(
    "/patients/:did/audit",
    {
      schema: {
        summary: "a page of the patient's audit trail (every access.log and its decision), oldest first",
        description: AUTH_DESCRIPTION,
        tags: ["patients"],
        params,
        querystring: PageQuerySchema,
        response: { 200: pageResponse(AuditSchema), ...errorResponses(401, 403) },
      },
    },
    async (request) => {
      context.auth.authorizePatient(request, request.params.did);
      const page = context.state.auditOfPatient(request.params.did, pageRequest(request.query));
      return { items: page.items.map(auditJson), next: cursor(page.next) };
    },
  );

  app.get(
    "/access/check",
    {
      schema: {
        summary: "the decision the rules would give now (a pure read: nothing is logged)",
        tags: ["access"],
        querystring: Type.Object({
          provider: DidSchema,
          patient: DidSchema,
          category: CategorySchema,
          purpose: PurposeSchema,
          record: Type.Optional(RecordIdSchema),
        }),
        response: {
          200: Type.Object({
            decision: DecisionSchema,
            code: Type.String(),
            cites: Type.Union([HashHex, Type.Null()]),
            flagged: Type.Boolean(),
            time: Type.Integer({ description: "the node time the rules ran at" }),
          }),
          ...errorResponses(),
        },
      },
    },
    async (request) => {
      const { provider, patient, category, purpose, record } = request.query;
      const time = context.now();
      const verdict = checkAccess(
        context.state,
        { provider, patient, category, purpose, ...(record === undefined ? {} : { record }) },
        time,
      );
      return {
        decision: verdict.decision,
        code: verdict.code,
        cites: verdict.cites === null ? null : toHex(verdict.cites),
        flagged: verdict.flagged,
        time,
      };
    },
  );
}

function pageRequest(query: { after?: string; limit?: number }): { after?: Position; limit: number } {
  const limit = query.limit ?? 50;
  if (query.after === undefined) return { limit };
  const [height, txIndex] = query.after.split(":").map(Number);
  return { after: { height: height ?? 0, txIndex: txIndex ?? 0 }, limit };
}

function cursor(position: Position | null): string | null {
  return position === null ? null : `${position.height}:${position.txIndex}`;
}

function consentJson(row: ConsentRow) {
  return { ...row, id: toHex(row.id) };
}

function auditJson(row: AuditRow) {
  return { ...row, tx: toHex(row.tx), cites: row.cites === null ? null : toHex(row.cites) };
}
