/**
 * The node's HTTP API as a Fastify app (no listen: see server.ts). Infrastructure first (error handler,
 * load shedding, rate limit, OpenAPI), then the domain services (auth, metrics, events), then routes.
 * Every route has TypeBox schemas for its params, query, body and each response status; every failure
 * is `{ "error": { "code", "message" } }` with a stable code, and a 5xx never carries details.
 */

import AjvCompiler from "@fastify/ajv-compiler";
import rateLimit from "@fastify/rate-limit";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import underPressure from "@fastify/under-pressure";
import type { Verifier } from "@medledger/protocol";
import { nodeVerifier } from "@medledger/protocol/node";
import Fastify, { type FastifyError, type FastifyReply, type FastifyRequest } from "fastify";
import type { Registry } from "prom-client";
import { isNodeError } from "../errors.js";
import {
  api_body_bytes_max,
  api_event_loop_delay_max_ms,
  api_rate_limit_requests_max,
  api_rate_limit_window_ms,
} from "../limits.js";
import { type Logger, silentLogger } from "../logger.js";
import { Authorizer } from "./auth.js";
import type { ApiContext, ApiInstance, ApiNode, RecordVault } from "./context.js";
import { ApiError, errorBody, isApiError } from "./errors.js";
import { EventHub } from "./events.js";
import { createApiMetrics } from "./metrics.js";
import { blockRoutes } from "./routes/blocks.js";
import { eventRoutes } from "./routes/events.js";
import { nodeRoutes } from "./routes/node.js";
import { patientRoutes } from "./routes/patients.js";
import { recordRoutes } from "./routes/records.js";
import { txRoutes } from "./routes/txs.js";
import { BlockHeaderSchema, ErrorSchema, SignedTxJsonSchema } from "./schemas.js";

/** The version of the API's paths and shapes (the OpenAPI info.version). */
export const API_VERSION = "v1";

/** What the API needs. */
export interface ApiDeps {
  readonly node: ApiNode;
  /** The node's admin token (operator reads, and every patient-scoped read). */
  readonly adminToken: string;
  /** The node's vault; without it the record routes answer 503 NO_VAULT. */
  readonly vault?: RecordVault | null;
  readonly verifier?: Verifier;
  readonly logger?: Logger;
  /** The clock (ms since the epoch); default Date.now. */
  readonly now?: () => number;
  /** Requests per window per client address (default api_rate_limit_requests_max per api_rate_limit_window_ms). */
  readonly rateLimit?: { readonly max: number; readonly windowMs: number };
  /** Event-loop delay beyond which requests are shed (default api_event_loop_delay_max_ms; 0 disables). */
  readonly eventLoopDelayMaxMs?: number;
  /**
   * The node's Prometheus registry: the API adds its metrics to it, and GET /metrics serves all of it
   * (the network's too). Default: a registry of the API's own. Build one API per registry.
   */
  readonly registry?: Registry;
}

const validatorPool = AjvCompiler();

/**
 * Fastify's validators, with type coercion only where text is all a client can send (query strings,
 * path parameters, headers): a JSON body must carry the right types, or `"v": true` in a transaction
 * would be taken as 1 (found by the API fuzz test).
 */
function strictBodies(
  externalSchemas: Parameters<typeof validatorPool>[0],
  options: Parameters<typeof validatorPool>[1] = {},
): ReturnType<typeof validatorPool> {
  // The pool's types name the schema as the argument; Fastify passes the route (schema, httpPart, ...).
  type RouteValidator = (route: { httpPart?: string }) => unknown;
  const coercing = validatorPool(externalSchemas, options) as unknown as RouteValidator;
  const strict = validatorPool(externalSchemas, {
    ...options,
    customOptions: { ...(options.customOptions as object), coerceTypes: false },
  } as typeof options) as unknown as RouteValidator;
  const pick: RouteValidator = (route) => (route.httpPart === "body" ? strict : coercing)(route);
  return pick as unknown as ReturnType<typeof validatorPool>;
}

/** Builds the API of `deps.node` (call `listen` or `inject` on it; see startApi). */
export function buildApi(deps: ApiDeps): ApiInstance {
  const logger = (deps.logger ?? silentLogger).child({ module: "api" });
  const now = deps.now ?? Date.now;
  const app = Fastify({
    logger: false,
    bodyLimit: api_body_bytes_max,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: "array", allErrors: false } },
    schemaController: { compilersFactory: { buildValidator: strictBodies } },
    return503OnClosing: true,
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.removeContentTypeParser("text/plain");
  app.setErrorHandler((error, request, reply) => sendError(error, request, reply, logger));
  app.setNotFoundHandler((request, reply) => {
    sendError(
      new ApiError("NOT_FOUND", `no route ${request.method} ${request.url.split("?")[0]}`),
      request,
      reply,
      logger,
    );
  });

  const state = deps.node.db.state;
  const metrics = createApiMetrics({
    ledger: deps.node.ledger,
    peers: () => deps.node.network.peers().length,
    now,
    ...(deps.registry === undefined ? {} : { registry: deps.registry }),
  });
  const events = new EventHub(deps.node.ledger);
  const context: ApiContext = {
    node: deps.node,
    state,
    vault: deps.vault ?? null,
    auth: new Authorizer({
      adminToken: deps.adminToken,
      state,
      verifier: deps.verifier ?? nodeVerifier,
      now,
    }),
    metrics,
    events,
    verifier: deps.verifier ?? nodeVerifier,
    logger,
    now,
    member: () => state.getIdentity(deps.node.id)?.member ?? null,
  };
  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unknown";
    metrics.observeRequest(route, request.method, reply.statusCode, reply.elapsedTime / 1000);
  });
  app.addHook("preClose", async () => events.close());
  app.addHook("onClose", async () => metrics.close());

  app.addSchema(ErrorSchema);
  app.addSchema(SignedTxJsonSchema);
  app.addSchema(BlockHeaderSchema);

  app.register(async (scoped) => {
    const delay = deps.eventLoopDelayMaxMs ?? api_event_loop_delay_max_ms;
    await scoped.register(underPressure, {
      maxEventLoopDelay: delay,
      retryAfter: 5,
      pressureHandler: async (_request, reply) => {
        reply.header("retry-after", 5);
        throw new ApiError("OVERLOADED", "the node is under pressure: retry later", { retryAfterSeconds: 5 });
      },
    });
    await scoped.register(rateLimit, {
      max: deps.rateLimit?.max ?? api_rate_limit_requests_max,
      timeWindow: deps.rateLimit?.windowMs ?? api_rate_limit_window_ms,
      errorResponseBuilder: (_request, limit) =>
        new ApiError("RATE_LIMITED", `at most ${limit.max} requests per window: retry after ${limit.after}`, {
          retryAfterSeconds: Math.ceil(limit.ttl / 1000),
        }),
    });
    await scoped.register(swagger, {
      openapi: {
        openapi: "3.0.3",
        info: {
          title: "medledger node API",
          version: API_VERSION,
          description:
            "A consent and audit ledger node. Writes are signed transactions; PHI reads are signed requests; every error is { error: { code, message } } with a stable code.",
        },
        tags: ["node", "txs", "blocks", "patients", "access", "records", "events"].map((name) => ({ name })),
      },
    });
    await scoped.register(swaggerUi, { routePrefix: "/docs" });
    scoped.register(async (routes) => {
      const typed = routes.withTypeProvider<TypeBoxTypeProvider>();
      nodeRoutes(typed, context);
      txRoutes(typed, context);
      blockRoutes(typed, context);
      patientRoutes(typed, context);
      recordRoutes(typed, context);
      eventRoutes(typed, context);
    });
  });
  return app;
}

/** The one error handler: every failure becomes a stable code; 5xx details are logged, never sent. */
function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply, logger: Logger): void {
  const api = toApiError(error);
  if (api.statusCode >= 500 && api.code !== "MEMPOOL_FULL" && api.statusCode !== 503) {
    logger.error("request failed", {
      method: request.method,
      route: request.routeOptions.url ?? request.url,
      reason: error instanceof Error ? error.message : String(error),
    });
  }
  const retry = api.details.retryAfterSeconds;
  if (retry !== undefined) reply.header("retry-after", String(retry));
  if (reply.sent || reply.raw.headersSent) return;
  reply.code(api.statusCode).type("application/json; charset=utf-8").send(errorBody(api));
}

function toApiError(error: unknown): ApiError {
  if (isApiError(error)) return error;
  const fastify = error as Partial<FastifyError> & {
    validation?: Array<{ instancePath?: string; message?: string; params?: Record<string, unknown> }>;
  };
  if (Array.isArray(fastify.validation)) {
    const first = fastify.validation[0];
    const where = fastify.validationContext ?? "request";
    const missing = first?.params?.missingProperty;
    const path = `${first?.instancePath ?? ""}${typeof missing === "string" ? `/${missing}` : ""}`;
    const field = `${where}${path.replaceAll("/", ".")}`;
    return new ApiError("VALIDATION_FAILED", `${field} ${first?.message ?? "is invalid"}`, { field });
  }
  if (isNodeError(error)) {
    if (error.code === "MEMPOOL_FULL")
      return new ApiError("MEMPOOL_FULL", error.message, { retryAfterSeconds: 1 });
    if (error.code === "STORAGE_FULL")
      return new ApiError("STORAGE_FULL", error.message, { retryAfterSeconds: 5 });
    if (error.code === "NOT_STARTED" || error.code === "LEDGER_DIVERGED" || error.code === "STORAGE_CLOSED") {
      return new ApiError("NODE_UNAVAILABLE", "the node is not running", { retryAfterSeconds: 5 });
    }
  }
  switch (fastify.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new ApiError("BODY_TOO_LARGE", "the body exceeds this route's size limit");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new ApiError("UNSUPPORTED_MEDIA_TYPE", "send the body as application/json");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new ApiError("BODY_INVALID", "the body is not valid JSON");
    default:
      break;
  }
  if (error instanceof SyntaxError) return new ApiError("BODY_INVALID", "the body is not valid JSON");
  const status = typeof fastify.statusCode === "number" ? fastify.statusCode : 500;
  if (status >= 400 && status < 500) return new ApiError("VALIDATION_FAILED", "the request is malformed");
  return new ApiError("INTERNAL", "internal error");
}
