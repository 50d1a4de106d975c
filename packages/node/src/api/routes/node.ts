/** Health, readiness, status and Prometheus metrics. */
import { NO_NODE } from "@medledger/consensus";
import { Type } from "typebox";
import { api_ready_lag_entries_max } from "../../limits.js";
import type { ApiContext, ApiInstance } from "../context.js";
import { errorResponses } from "../schemas.js";

const StatusSchema = Type.Object({
  node: Type.String({ description: "this node's DID" }),
  chain: Type.String(),
  role: Type.String(),
  term: Type.Integer(),
  leader: Type.Union([Type.String(), Type.Null()]),
  height: Type.Integer(),
  commitIndex: Type.Integer(),
  appliedIndex: Type.Integer(),
  blockHash: Type.String(),
  appHash: Type.String(),
  mempoolSize: Type.Integer(),
  member: Type.Union([Type.String(), Type.Null()], { description: "the member this node belongs to" }),
  peers: Type.Object({ connected: Type.Integer(), ids: Type.Array(Type.String()) }),
  members: Type.Array(Type.Object({ did: Type.String(), nodes: Type.Array(Type.String()) })),
  voters: Type.Array(Type.String()),
  learners: Type.Array(Type.String()),
  halted: Type.Boolean(),
  backfilling: Type.Boolean({
    description: "true while this node fetches blocks an installed snapshot skipped (its history has a gap)",
  }),
});

const ReadySchema = Type.Object({
  ready: Type.Boolean(),
  leader: Type.Union([Type.String(), Type.Null()]),
  commitIndex: Type.Integer(),
  appliedIndex: Type.Integer(),
  lagEntriesMax: Type.Integer(),
});

export function nodeRoutes(app: ApiInstance, context: ApiContext): void {
  const { ledger } = context.node;

  app.get(
    "/health",
    {
      schema: {
        summary: "liveness: the process answers",
        tags: ["node"],
        response: { 200: Type.Object({ status: Type.Literal("ok") }), ...errorResponses() },
      },
    },
    async () => ({ status: "ok" as const }),
  );

  app.get(
    "/ready",
    {
      schema: {
        summary: "readiness: a leader is known and this node has applied what is committed",
        description: `503 unless a leader is known and the applied index trails the commit index by at most ${api_ready_lag_entries_max} entries`,
        tags: ["node"],
        response: { ...errorResponses(), 200: ReadySchema, 503: ReadySchema },
      },
    },
    async (_request, reply) => {
      const status = ledger.status();
      const leader = status.leader === NO_NODE ? null : status.leader;
      const ready =
        leader !== null &&
        ledger.haltedBy === null &&
        status.commitIndex - status.appliedIndex <= api_ready_lag_entries_max;
      const body = {
        ready,
        leader,
        commitIndex: status.commitIndex,
        appliedIndex: status.appliedIndex,
        lagEntriesMax: api_ready_lag_entries_max,
      };
      return reply.code(ready ? 200 : 503).send(body);
    },
  );

  app.get(
    "/status",
    {
      schema: {
        summary: "this node's view of the cluster and the chain",
        tags: ["node"],
        response: { 200: StatusSchema, ...errorResponses() },
      },
    },
    async () => {
      const status = ledger.status();
      const peers = context.node.network.peers();
      return {
        node: context.node.id,
        chain: context.state.getChain()?.chain ?? "",
        role: status.role,
        term: status.term,
        leader: status.leader === NO_NODE ? null : status.leader,
        height: status.height,
        commitIndex: status.commitIndex,
        appliedIndex: status.appliedIndex,
        blockHash: status.blockHash,
        appHash: status.appHash,
        mempoolSize: status.mempoolSize,
        member: context.member(),
        peers: { connected: peers.length, ids: peers },
        members: context.state.listMembers().map((member) => ({ did: member.did, nodes: member.nodes })),
        voters: [...status.voters],
        learners: [...status.learners],
        halted: ledger.haltedBy !== null,
        backfilling: ledger.backfillStats.running,
      };
    },
  );

  app.get(
    "/metrics",
    {
      schema: {
        summary: "Prometheus metrics (text exposition format)",
        tags: ["node"],
        produces: ["text/plain"],
        response: { 200: Type.String(), ...errorResponses() },
      },
    },
    async (_request, reply) => {
      const text = await context.metrics.registry.metrics();
      return reply.type(context.metrics.registry.contentType).send(text);
    },
  );
}
