/**
 * MedledgerClient: one typed method per route of a node's HTTP API (docs/api.md), over fetch. Writes are
 * signed transactions (build them with `client.txs` or buildTx); PHI reads are requests signed by an
 * Identity's current key; patient-scoped reads may use the node's admin token instead. Every failure is
 * a ClientError with a stable code.
 */
import {
  type AccessLogBody,
  type Did,
  fromHex,
  isProtocolError,
  type SignedTx,
  sha256,
  toHex,
  txToJson,
  utf8,
} from "@medledger/protocol";
import { base64Decode, base64Encode } from "./base64.js";
import { ClientError, clientError } from "./errors.js";
import { errorOf, exchange, type FetchLike, isRecord, parseJson, send } from "./http.js";
import { type Identity, signedRequestHeaders } from "./identity.js";
import {
  batch_txs_max,
  commit_poll_initial_ms,
  commit_poll_max_ms,
  commit_wait_default_ms,
  request_timeout_default_ms,
  request_wait_margin_ms,
  submit_wait_default_ms,
  submit_wait_max_ms,
} from "./limits.js";
import {
  ACCESS_CHECK,
  ACCESS_EVENT,
  AUDIT,
  BATCH,
  BATCH_ITEM,
  BLOCK,
  BLOCK_EVENT,
  BLOCK_SUMMARY,
  BREAK_GLASS_EVENT,
  CONSENT,
  checkItems,
  checkShape,
  DISCLOSED,
  READY,
  type Shape,
  STATUS,
  STORED,
  TX_DETAIL,
  TX_STATUS,
} from "./shape.js";
import { parseEventStream } from "./sse.js";
import { type BuildOptions, type BuiltTx, builtOf, type TxBuilder, txBuilder } from "./txs.js";
import type {
  AccessCheck,
  AuditEntry,
  BatchItem,
  BlockDetail,
  BlockPage,
  BlockSummary,
  CommittedTxDetail,
  Consent,
  DisclosedRecord,
  Health,
  LedgerStreamEvent,
  NodeStatus,
  Page,
  Readiness,
  StoredRecord,
  TxDetail,
  TxStatus,
} from "./types.js";
import { type VerifiedInclusion, verifyBlockHeader, verifyInclusion } from "./verify.js";

/** How a client is made. */
export interface ClientOptions {
  /** The node's API, e.g. "http://127.0.0.1:8080" (requests are signed over the path and query as sent). */
  readonly baseUrl: string;
  /** The chain id for building transactions (else read from GET /status by txBuilder()). */
  readonly chain?: string;
  /** fetch (default: globalThis.fetch). */
  readonly fetch?: FetchLike;
  /** Deadline of each request, headers and body (default request_timeout_default_ms). */
  readonly timeoutMs?: number;
  /** The node's admin token, for patient-scoped reads without the patient's signature. */
  readonly adminToken?: string;
  /** The clock for signing requests and building transactions, in ms since the epoch (default Date.now). */
  readonly now?: () => number;
}

/** Per-call options every method takes. */
export interface CallOptions {
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

/** A transaction as submit takes it: built, signed, its encoding, or its encoding in hex. */
export type TxInput = BuiltTx | SignedTx | Uint8Array | { readonly encoded: string };

/** Who reads a patient's data: the patient's (or anyone's) signed request, else the client's admin token. */
export interface ReadAuth {
  /** Sign the request as this identity (default: the patient, when given as an Identity). */
  readonly as?: Identity;
}

/** A page request. */
export interface PageOptions {
  /** The `next` cursor of the previous page ("<height>:<txIndex>"). */
  readonly after?: string;
  /** 1..500 (default 50). */
  readonly limit?: number;
}

/** An open event stream: iterate it; close() (or the signal) ends it. */
export interface EventStream extends AsyncIterableIterator<LedgerStreamEvent> {
  close(): void;
}

type Auth = { kind: "none" } | { kind: "signed"; identity: Identity } | { kind: "admin"; token: string };

interface CallSpec {
  readonly method: "GET" | "POST";
  /** Path and query, already encoded. */
  readonly path: string;
  readonly body?: unknown;
  readonly auth?: Auth;
  readonly headers?: Record<string, string>;
  readonly ok: readonly number[];
}

const RECORD_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export class MedledgerClient {
  readonly baseUrl: string;
  private readonly fetch: FetchLike;
  private readonly timeoutMs: number;
  private readonly adminToken: string | undefined;
  private readonly now: () => number;
  private chainId: string | undefined;
  private builder: TxBuilder | undefined;

  constructor(options: ClientOptions) {
    let base: URL;
    try {
      base = new URL(options.baseUrl);
    } catch (cause) {
      throw clientError("CLIENT_INPUT_INVALID", `baseUrl ${options.baseUrl} is not a URL`, {
        field: "baseUrl",
        cause,
      });
    }
    if (base.protocol !== "http:" && base.protocol !== "https:") {
      throw clientError("CLIENT_INPUT_INVALID", "baseUrl must be http: or https:", { field: "baseUrl" });
    }
    this.baseUrl = base.href.replace(/\/+$/, "");
    if (options.fetch === undefined && typeof globalThis.fetch !== "function") {
      throw clientError("CLIENT_INPUT_INVALID", "no global fetch here: pass options.fetch", {
        field: "fetch",
      });
    }
    this.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.timeoutMs = positive(options.timeoutMs ?? request_timeout_default_ms, "timeoutMs");
    this.adminToken = options.adminToken;
    this.now = options.now ?? Date.now;
    this.chainId = options.chain;
  }

  // ---- node --------------------------------------------------------------------------------------

  /** GET /health. */
  async health(options: CallOptions = {}): Promise<Health> {
    return this.json<Health>({ method: "GET", path: "/health", ok: [200] }, { status: "string" }, options);
  }

  /** GET /ready: the readiness body, whether the node is ready (200) or not (503). */
  async ready(options: CallOptions = {}): Promise<Readiness> {
    return this.json<Readiness>({ method: "GET", path: "/ready", ok: [200, 503] }, READY, options);
  }

  /** GET /status (also learns the chain id). */
  async status(options: CallOptions = {}): Promise<NodeStatus> {
    const status = await this.json<NodeStatus>(
      { method: "GET", path: "/status", ok: [200] },
      STATUS,
      options,
    );
    this.chainId ??= status.chain;
    return status;
  }

  /** GET /metrics: the Prometheus text. */
  async metrics(options: CallOptions = {}): Promise<string> {
    return (await this.call({ method: "GET", path: "/metrics", ok: [200] }, options)).text;
  }

  /** The chain id: the one given, or read once from GET /status. */
  async chain(options: CallOptions = {}): Promise<string> {
    if (this.chainId === undefined) await this.status(options);
    return this.chainId as string;
  }

  /** Transaction builders for this client's chain; throws CLIENT_CHAIN_UNKNOWN before the chain is known. */
  get txs(): TxBuilder {
    if (this.chainId === undefined) {
      throw clientError(
        "CLIENT_CHAIN_UNKNOWN",
        "pass `chain` to the client or await client.txBuilder() first",
      );
    }
    if (this.builder?.chain !== this.chainId)
      this.builder = txBuilder({ chain: this.chainId, now: this.now });
    return this.builder;
  }

  /** Transaction builders, reading the chain id from the node when it was not given. */
  async txBuilder(options: CallOptions = {}): Promise<TxBuilder> {
    await this.chain(options);
    return this.txs;
  }

  // ---- transactions ------------------------------------------------------------------------------

  /**
   * POST /txs. With `wait`, the node answers at the commit (200) or after `timeoutMs` (202, pending).
   * A committed transaction whose rule failed is still a success here: check `result.status` (or use commit()).
   */
  async submit(
    tx: TxInput,
    options: CallOptions & { wait?: boolean; waitMs?: number } = {},
  ): Promise<TxStatus> {
    const waitMs = Math.min(options.waitMs ?? submit_wait_default_ms, submit_wait_max_ms);
    const query = options.wait === true ? `?wait=true&timeoutMs=${positive(waitMs, "waitMs")}` : "";
    const timeoutMs =
      options.timeoutMs ??
      (options.wait === true ? Math.max(this.timeoutMs, waitMs + request_wait_margin_ms) : this.timeoutMs);
    return this.json<TxStatus>(
      { method: "POST", path: `/txs${query}`, body: txBody(tx), ok: [200, 202] },
      TX_STATUS,
      { ...options, timeoutMs },
    );
  }

  /**
   * POST /txs/batch: up to batch_txs_max transactions in one request, one answer each in order
   * (pending, committed, or refused with the error a single submit would throw). With `wait`, the node
   * answers once every accepted one is committed or after `waitMs`.
   */
  async submitBatch(
    txs: readonly TxInput[],
    options: CallOptions & { wait?: boolean; waitMs?: number } = {},
  ): Promise<BatchItem[]> {
    if (txs.length === 0 || txs.length > batch_txs_max) {
      throw new ClientError("CLIENT_INPUT_INVALID", 0, `a batch holds 1 to ${batch_txs_max} transactions`);
    }
    const waitMs = Math.min(options.waitMs ?? submit_wait_default_ms, submit_wait_max_ms);
    const query = options.wait === true ? `?wait=true&timeoutMs=${positive(waitMs, "waitMs")}` : "";
    const timeoutMs =
      options.timeoutMs ??
      (options.wait === true ? Math.max(this.timeoutMs, waitMs + request_wait_margin_ms) : this.timeoutMs);
    const body = { txs: txs.map((tx) => ({ encoded: toHex(encodedOf(tx)) })) };
    const answer = await this.json<{ items: BatchItem[] }>(
      { method: "POST", path: `/txs/batch${query}`, body, ok: [200] },
      BATCH,
      { ...options, timeoutMs },
    );
    if (answer.items.length !== txs.length) {
      throw new ClientError(
        "CLIENT_RESPONSE_INVALID",
        200,
        "POST /txs/batch: one answer per transaction expected",
      );
    }
    return answer.items.map((item) => checkShape<BatchItem>(item, BATCH_ITEM, "POST /txs/batch item"));
  }

  /**
   * Submits and waits until committed (POST /txs?wait=true, then polling GET /txs/{id} if needed).
   * Throws TX_REJECTED (reason: the rule's code, tx: the id) when it committed but its rule failed,
   * CLIENT_TIMEOUT when it is not committed within `timeoutMs` (default commit_wait_default_ms).
   */
  async commit(tx: TxInput, options: CallOptions = {}): Promise<TxStatus & { status: "committed" }> {
    const timeoutMs = options.timeoutMs ?? commit_wait_default_ms;
    const deadline = this.now() + timeoutMs;
    const signal = options.signal === undefined ? {} : { signal: options.signal };
    let status = await this.submit(tx, {
      ...signal,
      wait: true,
      waitMs: Math.max(1, Math.min(timeoutMs, submit_wait_max_ms)),
    });
    if (status.status !== "committed") {
      status = await this.waitForCommit(status.id, {
        ...signal,
        timeoutMs: Math.max(1, deadline - this.now()),
      });
    }
    if (status.result?.status === "rejected") {
      throw new ClientError(
        "TX_REJECTED",
        0,
        `transaction ${status.id} was rejected: ${status.result.code}`,
        {
          reason: status.result.code,
          tx: status.id,
        },
      );
    }
    return status as TxStatus & { status: "committed" };
  }

  /** GET /txs/{id}: pending, unknown, or committed with its inclusion proof. */
  async getTx(id: string, options: CallOptions = {}): Promise<TxDetail> {
    return this.json<TxDetail>({ method: "GET", path: `/txs/${txIdOf(id)}`, ok: [200] }, TX_DETAIL, options);
  }

  /** Polls GET /txs/{id} (backing off) until it is committed; CLIENT_TIMEOUT after `timeoutMs`. */
  async waitForCommit(
    id: string,
    options: CallOptions & { intervalMs?: number } = {},
  ): Promise<CommittedTxDetail> {
    const timeoutMs = options.timeoutMs ?? commit_wait_default_ms;
    const deadline = this.now() + timeoutMs;
    let pauseMs = options.intervalMs ?? commit_poll_initial_ms;
    for (;;) {
      const left = deadline - this.now();
      const detail = await this.getTx(id, {
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        timeoutMs: Math.max(1, Math.min(this.timeoutMs, left)),
      });
      if (detail.status === "committed") return detail as CommittedTxDetail;
      if (this.now() + pauseMs > deadline) {
        throw clientError(
          "CLIENT_TIMEOUT",
          `transaction ${id} is not committed after ${timeoutMs} ms (${detail.status})`,
          {
            tx: id,
          },
        );
      }
      await sleep(pauseMs, options.signal);
      pauseMs = Math.min(pauseMs * 2, commit_poll_max_ms);
    }
  }

  /** Verifies a GET /txs/{id} answer locally (Merkle proof to txRoot, header hash); throws CLIENT_PROOF_INVALID. */
  verifyInclusion(answer: TxDetail): VerifiedInclusion {
    return verifyInclusion(answer);
  }

  /**
   * Fetches a committed transaction and its block and verifies locally: the inclusion proof, the header
   * hash, that the block the node serves has that hash, and the proposer's signature on the header.
   */
  async verifyTx(id: string, options: CallOptions = {}): Promise<VerifiedInclusion> {
    const inclusion = verifyInclusion(await this.getTx(id, options));
    const block = await this.getBlock(inclusion.height, options);
    verifyBlockHeader(block);
    if (block.hash !== inclusion.blockHash) {
      throw clientError(
        "CLIENT_PROOF_INVALID",
        `block ${block.height} is ${block.hash}, not ${inclusion.blockHash}`,
        {
          tx: id,
        },
      );
    }
    return inclusion;
  }

  // ---- blocks ------------------------------------------------------------------------------------

  /** GET /blocks/{height}: throws BLOCK_NOT_FOUND (404) above the tip. */
  async getBlock(height: number, options: CallOptions = {}): Promise<BlockDetail> {
    const path = `/blocks/${positive(height, "height")}`;
    return this.json<BlockDetail>({ method: "GET", path, ok: [200] }, BLOCK, options);
  }

  /** GET /blocks?from=&limit=: a page of headers. */
  async getBlocks(
    page: { from?: number; limit?: number } = {},
    options: CallOptions = {},
  ): Promise<BlockPage> {
    const query = queryString({
      from: page.from === undefined ? undefined : String(positive(page.from, "from")),
      limit: page.limit === undefined ? undefined : String(positive(page.limit, "limit")),
    });
    const answer = await this.json<{ blocks: unknown; next: unknown }>(
      { method: "GET", path: `/blocks${query}`, ok: [200] },
      { blocks: "array", next: "number|null" },
      options,
    );
    return {
      blocks: checkItems<BlockSummary>(answer.blocks, BLOCK_SUMMARY, "GET /blocks"),
      next: answer.next as number | null,
    };
  }

  // ---- patients ----------------------------------------------------------------------------------

  /** GET /patients/{did}/consents: signed as `as` (default the patient Identity given) or with the admin token. */
  async consents(
    patient: Did | Identity,
    options: ReadAuth & PageOptions & CallOptions = {},
  ): Promise<Page<Consent>> {
    return this.page<Consent>(patient, "consents", CONSENT, options);
  }

  /** GET /patients/{did}/audit: every access.log of the patient and its decision, oldest first. */
  async audit(
    patient: Did | Identity,
    options: ReadAuth & PageOptions & CallOptions = {},
  ): Promise<Page<AuditEntry>> {
    return this.page<AuditEntry>(patient, "audit", AUDIT, options);
  }

  /** GET /access/check: the decision the rules would give now (nothing is logged). */
  async checkAccess(
    query: { provider: Did; patient: Did; category: string; purpose: string; record?: string },
    options: CallOptions = {},
  ): Promise<AccessCheck> {
    const path = `/access/check${queryString({ ...query })}`;
    return this.json<AccessCheck>({ method: "GET", path, ok: [200] }, ACCESS_CHECK, options);
  }

  // ---- records -----------------------------------------------------------------------------------

  /**
   * POST /records: stores `content` in the node's vault and commits its record.anchor (built by the
   * holder's provider: `client.txs.recordAnchor(provider, { ..., content })`). Checks locally first
   * that sha256(content) is the anchor's contentHash. 201 → committed; 202 → still pending.
   */
  async putRecord(
    input: { anchor: TxInput; content: Uint8Array | string },
    options: CallOptions = {},
  ): Promise<StoredRecord> {
    const content = typeof input.content === "string" ? utf8(input.content) : input.content;
    const anchor = txBody(input.anchor);
    const answer = await this.json<StoredRecord>(
      {
        method: "POST",
        path: "/records",
        body: { anchor, content: base64Encode(content) },
        ok: [201, 202],
      },
      STORED,
      options,
    );
    return answer;
  }

  /**
   * GET /records/{id}: disclosure after the provider's access.log commits as permitted or emergency.
   * `as` is the provider; `accessLog` is its access.log for this record (a tx), or the body to build
   * one with (patient, category, purpose). The content is decoded and checked against contentHash.
   * Throws ACCESS_DENIED (403, `decision`, `reason`, `tx`), GONE (410), RECORD_NOT_HELD_HERE (404), ...
   */
  async getRecord(
    record: string,
    options: CallOptions & {
      as: Identity;
      accessLog: TxInput | Omit<AccessLogBody, "record">;
      build?: BuildOptions;
    },
  ): Promise<DisclosedRecord> {
    const id = recordIdOf(record);
    const log =
      isRecord(options.accessLog) && "purpose" in options.accessLog
        ? (await this.txBuilder(options)).accessLog(
            options.as,
            { ...(options.accessLog as Omit<AccessLogBody, "record">), record: id },
            options.build,
          ).encoded
        : encodedOf(options.accessLog as TxInput);
    const answer = await this.json<Omit<DisclosedRecord, "content"> & { content: string }>(
      {
        method: "GET",
        path: `/records/${encodeURIComponent(id)}`,
        auth: { kind: "signed", identity: options.as },
        headers: { "x-medledger-access-log": toHex(log) },
        ok: [200],
      },
      DISCLOSED,
      options,
    );
    const content = base64Decode(answer.content);
    if (content === undefined)
      throw clientError("CLIENT_RESPONSE_INVALID", "the record's content is not base64");
    if (toHex(sha256(content)) !== answer.contentHash) {
      throw clientError(
        "CLIENT_CONTENT_MISMATCH",
        `record ${id}'s content does not hash to ${answer.contentHash}`,
      );
    }
    return { ...answer, content };
  }

  // ---- events ------------------------------------------------------------------------------------

  /**
   * GET /events: opens the stream (resolves once the node answered 200, so nothing committed after
   * that is missed) and returns an async iterator of typed events. Without `patient`: every committed
   * block. With `patient`: that patient's break-glass, access and access-denied notifications, signed
   * as `as` (default the patient Identity given) or with the admin token. Unknown event types are
   * skipped. The iterator ends when the node closes the stream, on close(), or when `signal` aborts.
   */
  async events(
    options: { patient?: Did | Identity; as?: Identity; signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<EventStream> {
    const patient = options.patient;
    const path = patient === undefined ? "/events" : `/events${queryString({ patient: didOf(patient) })}`;
    const auth: Auth = patient === undefined ? { kind: "none" } : this.patientAuth(patient, options.as);
    const request = this.prepare({ method: "GET", path, auth, ok: [200] }, options);
    const opened = await send(this.fetch, {
      ...request,
      headers: { ...request.headers, accept: "text/event-stream" },
    });
    const { response, controller, settle, mapError } = opened;
    settle(false); // the deadline was for the headers; the caller's signal still ends the stream
    if (response.status !== 200 || response.body === null) {
      const text = await response.text().catch(() => "");
      settle();
      throw errorOf(response.status, response.headers, text, `GET ${path}`);
    }
    const body = response.body;
    const close = () => controller.abort();
    async function* iterate(): AsyncGenerator<LedgerStreamEvent, void, undefined> {
      try {
        for await (const message of parseEventStream(body)) {
          const event = typedEvent(message.event, message.id, message.data);
          if (event !== null) yield event;
        }
      } catch (error) {
        if (controller.signal.aborted) return; // closed by the caller
        throw mapError(error);
      } finally {
        settle();
        controller.abort();
      }
    }
    return Object.assign(iterate(), { close });
  }

  // ---- internals ---------------------------------------------------------------------------------

  private async page<T>(
    patient: Did | Identity,
    what: "consents" | "audit",
    shape: Shape,
    options: ReadAuth & PageOptions & CallOptions,
  ): Promise<Page<T>> {
    const query = queryString({
      after: options.after,
      limit: options.limit === undefined ? undefined : String(positive(options.limit, "limit")),
    });
    const path = `/patients/${didOf(patient)}/${what}${query}`;
    const answer = await this.json<{ items: unknown; next: unknown }>(
      { method: "GET", path, auth: this.patientAuth(patient, options.as), ok: [200] },
      { items: "array", next: "string|null" },
      options,
    );
    return { items: checkItems<T>(answer.items, shape, `GET ${path}`), next: answer.next as string | null };
  }

  private patientAuth(patient: Did | Identity, as: Identity | undefined): Auth {
    const identity = as ?? (typeof patient === "string" ? undefined : patient);
    if (identity !== undefined) return { kind: "signed", identity };
    if (this.adminToken !== undefined) return { kind: "admin", token: this.adminToken };
    throw clientError("CLIENT_AUTH_MISSING", "sign as the patient (`as`) or give the client the admin token");
  }

  private prepare(spec: CallSpec, options: CallOptions) {
    const url = new URL(this.baseUrl + spec.path);
    const target = url.pathname + url.search;
    const body = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    const headers: Record<string, string> = { accept: "application/json", ...spec.headers };
    if (body !== undefined) headers["content-type"] = "application/json";
    const auth = spec.auth ?? { kind: "none" };
    if (auth.kind === "admin") headers.authorization = `Bearer ${auth.token}`;
    if (auth.kind === "signed") {
      Object.assign(
        headers,
        signedRequestHeaders(
          auth.identity,
          { method: spec.method, path: target, body: body === undefined ? new Uint8Array(0) : utf8(body) },
          this.now(),
        ),
      );
    }
    return {
      url: url.href,
      method: spec.method,
      headers,
      ...(body === undefined ? {} : { body }),
      timeoutMs: positive(options.timeoutMs ?? this.timeoutMs, "timeoutMs"),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    };
  }

  private async call(
    spec: CallSpec,
    options: CallOptions,
  ): Promise<{ status: number; headers: Headers; text: string }> {
    const answer = await exchange(this.fetch, this.prepare(spec, options));
    if (!spec.ok.includes(answer.status)) {
      throw errorOf(answer.status, answer.headers, answer.text, `${spec.method} ${spec.path}`);
    }
    return answer;
  }

  private async json<T>(spec: CallSpec, shape: Shape, options: CallOptions): Promise<T> {
    const answer = await this.call(spec, options);
    const value = parseJson(answer.text);
    if (value === undefined) {
      throw new ClientError(
        "CLIENT_RESPONSE_INVALID",
        answer.status,
        `${spec.method} ${spec.path}: the answer is not JSON`,
      );
    }
    // A 503 from /ready carries the readiness body; any other 503 (OVERLOADED) is the API's error.
    if (answer.status === 503 && !(isRecord(value) && "ready" in value)) {
      throw errorOf(answer.status, answer.headers, answer.text, `${spec.method} ${spec.path}`);
    }
    return checkShape<T>(value, shape, `${spec.method} ${spec.path}`);
  }
}

/** The JSON body POST /txs takes for `tx`. */
function txBody(tx: TxInput): unknown {
  return asInput(() => {
    if (tx instanceof Uint8Array) return { encoded: toHex(tx) };
    if ("signed" in tx) return tx.json;
    if ("encoded" in tx) return { encoded: tx.encoded.toLowerCase() };
    return txToJson(tx);
  });
}

/** The canonical encoding of `tx`. */
function encodedOf(tx: TxInput): Uint8Array {
  return asInput(() => {
    if (tx instanceof Uint8Array) return tx;
    if ("signed" in tx) return tx.encoded;
    if ("encoded" in tx) return fromHex(tx.encoded.toLowerCase());
    return builtOf(tx).encoded;
  });
}

/** Runs `convert`, turning the protocol's validation errors into CLIENT_INPUT_INVALID. */
function asInput<T>(convert: () => T): T {
  try {
    return convert();
  } catch (error) {
    if (!isProtocolError(error)) throw error;
    throw clientError("CLIENT_INPUT_INVALID", `not a valid transaction: ${error.message}`, {
      reason: error.code,
      field: "tx",
      cause: error,
    });
  }
}

function typedEvent(type: string, id: string, data: string): LedgerStreamEvent | null {
  const shapes: Record<string, Shape> = {
    block: BLOCK_EVENT,
    "break-glass": BREAK_GLASS_EVENT,
    access: ACCESS_EVENT,
    "access-denied": ACCESS_EVENT,
  };
  const shape = shapes[type];
  if (shape === undefined) return null;
  const value = parseJson(data);
  if (value === undefined) throw clientError("CLIENT_STREAM_INVALID", `event ${type} carries no JSON`);
  return { type, id, data: checkShape(value, shape, `event ${type}`) } as LedgerStreamEvent;
}

function queryString(params: Record<string, string | undefined>): string {
  const parts = Object.entries(params)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`);
  return parts.length === 0 ? "" : `?${parts.join("&")}`;
}

function didOf(patient: Did | Identity): string {
  const did = typeof patient === "string" ? patient : patient.did;
  if (!/^did:key:z[1-9A-HJ-NP-Za-km-z]{1,60}$/.test(did)) {
    throw clientError("CLIENT_INPUT_INVALID", `${did} is not a did:key`, { field: "patient" });
  }
  return did;
}

function txIdOf(id: string): string {
  if (!/^[0-9a-fA-F]{64}$/.test(id)) {
    throw clientError("CLIENT_INPUT_INVALID", "a transaction id is 64 hex characters", { field: "id" });
  }
  return id.toLowerCase();
}

function recordIdOf(record: string): string {
  if (!RECORD_ID_PATTERN.test(record) || record === "." || record === "..") {
    throw clientError("CLIENT_INPUT_INVALID", `${record} is not a record id`, { field: "record" });
  }
  return record;
}

function positive(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw clientError("CLIENT_INPUT_INVALID", `${field} must be a positive integer`, { field });
  }
  return value;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(clientError("CLIENT_ABORTED", "aborted"));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(clientError("CLIENT_ABORTED", "aborted"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
