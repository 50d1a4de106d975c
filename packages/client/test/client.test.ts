// Goal: every call maps to the documented request and every answer (or its absence) to a typed result or
// one ClientError with a stable code. Method: an injected fetch that records requests and plays canned
// answers: error bodies, bare statuses, garbage, hangs, resets, event streams; signed requests are
// checked with the protocol's verifyRequest over the exact path sent; inclusion proofs over a block
// built here are verified, then tampered with.
import {
  blockHash,
  blockHeaderToJson,
  type MerkleProofJson,
  merkleProof,
  merkleProofToJson,
  merkleRoot,
  nobleSigner,
  nobleVerifier,
  sha256,
  signBlockHeader,
  toHex,
  utf8,
  verifyRequest,
} from "@medledger/protocol";
import { describe, expect, it } from "vitest";
import {
  type ClientError,
  type FetchLike,
  generateIdentity,
  generateKey,
  isClientError,
  MedledgerClient,
  rotatedIdentity,
  type TxDetail,
  txBuilder,
} from "../src/index.js";

const BASE = "http://node.test:8080";
const chain = "test-client";
const txs = txBuilder({ chain });
const patient = generateIdentity();
const provider = generateIdentity();

interface Call {
  url: URL;
  init: RequestInit;
  headers: Record<string, string>;
}

/** A fetch that records each call and answers with `answer(call)`. */
function fakeFetch(answer: (call: Call) => Response | Promise<Response>): {
  fetch: FetchLike;
  calls: Call[];
} {
  const calls: Call[] = [];
  const fetch: FetchLike = async (input, init) => {
    const call = { url: new URL(input), init, headers: { ...(init.headers as Record<string, string>) } };
    calls.push(call);
    return answer(call);
  };
  return { fetch, calls };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function client(
  answer: (call: Call) => Response | Promise<Response>,
  options: { timeoutMs?: number; adminToken?: string } = {},
) {
  const fake = fakeFetch(answer);
  return {
    client: new MedledgerClient({ baseUrl: `${BASE}/`, chain, fetch: fake.fetch, ...options }),
    calls: fake.calls,
  };
}

async function failure(promise: Promise<unknown>): Promise<ClientError> {
  try {
    await promise;
  } catch (error) {
    if (isClientError(error)) return error;
    throw error;
  }
  throw new Error("expected a ClientError");
}

/** A fetch that never answers but honours its AbortSignal, as fetch does. */
function hanging(call: Call): Promise<Response> {
  return new Promise((_resolve, reject) => {
    call.init.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
  });
}

describe("error mapping", () => {
  it("turns the API's error body into code, status, field, reason, decision, tx and Retry-After", async () => {
    const { client: c } = client(() =>
      json(
        403,
        {
          error: {
            code: "ACCESS_DENIED",
            message: "denied",
            reason: "no-consent",
            decision: "denied",
            tx: "ab",
          },
        },
        { "retry-after": "3" },
      ),
    );
    const error = await failure(c.health());
    expect(error).toMatchObject({
      name: "ClientError",
      code: "ACCESS_DENIED",
      status: 403,
      message: "denied",
      reason: "no-consent",
      decision: "denied",
      tx: "ab",
      retryAfterSeconds: 3,
    });
  });

  it("names an error status without the API's body CLIENT_HTTP_ERROR", async () => {
    const { client: c } = client(() => new Response("<html>bad gateway</html>", { status: 502 }));
    expect(await failure(c.status())).toMatchObject({ code: "CLIENT_HTTP_ERROR", status: 502 });
  });

  it("refuses a success that is not JSON, or lacks a documented field, as CLIENT_RESPONSE_INVALID", async () => {
    const garbage = client(() => new Response("not json", { status: 200 }));
    expect(await failure(garbage.client.status())).toMatchObject({
      code: "CLIENT_RESPONSE_INVALID",
      status: 200,
    });
    const partial = client(() => json(200, { id: "ab" }));
    expect(await failure(partial.client.getTx("a".repeat(64)))).toMatchObject({
      code: "CLIENT_RESPONSE_INVALID",
    });
    const wrongItem = client(() => json(200, { items: [{ tx: 1 }], next: null }));
    expect(await failure(wrongItem.client.audit(patient))).toMatchObject({ code: "CLIENT_RESPONSE_INVALID" });
  });

  it("maps a failed connection to CLIENT_NETWORK", async () => {
    const { client: c } = client(() => Promise.reject(new TypeError("fetch failed: ECONNREFUSED")));
    expect(await failure(c.health())).toMatchObject({ code: "CLIENT_NETWORK", status: 0 });
  });

  it("maps no answer within timeoutMs to CLIENT_TIMEOUT, and a slow body too", async () => {
    const { client: c } = client(hanging, { timeoutMs: 30 });
    expect(await failure(c.health())).toMatchObject({ code: "CLIENT_TIMEOUT", status: 0 });
    const slowBody = client(
      (call) =>
        new Response(
          new ReadableStream({
            start(controller) {
              controller.enqueue(utf8('{"status":'));
              call.init.signal?.addEventListener("abort", () => controller.error(new Error("aborted")));
            },
          }),
          { status: 200 },
        ),
      { timeoutMs: 30 },
    );
    expect(await failure(slowBody.client.health())).toMatchObject({ code: "CLIENT_TIMEOUT" });
    expect(await failure(c.health({ timeoutMs: 10 }))).toMatchObject({ code: "CLIENT_TIMEOUT" });
  });

  it("maps the caller's abort to CLIENT_ABORTED", async () => {
    const { client: c } = client(hanging);
    const controller = new AbortController();
    const pending = failure(c.status({ signal: controller.signal }));
    controller.abort();
    expect(await pending).toMatchObject({ code: "CLIENT_ABORTED" });
  });

  it("checks arguments before sending", async () => {
    const { client: c, calls } = client(() => json(200, {}));
    expect(await failure(c.getTx("xyz"))).toMatchObject({ code: "CLIENT_INPUT_INVALID", field: "id" });
    expect(await failure(c.getBlock(0))).toMatchObject({ code: "CLIENT_INPUT_INVALID", field: "height" });
    expect(await failure(c.consents("did:web:example"))).toMatchObject({ code: "CLIENT_INPUT_INVALID" });
    expect(await failure(c.consents(patient.did))).toMatchObject({ code: "CLIENT_AUTH_MISSING" });
    expect(calls).toHaveLength(0);
    expect(() => new MedledgerClient({ baseUrl: "ftp://x" })).toThrow(
      expect.objectContaining({ code: "CLIENT_INPUT_INVALID" }),
    );
  });
});

describe("requests", () => {
  it("signs patient reads over the exact path and query sent, with the current key", async () => {
    const { client: c, calls } = client(() => json(200, { items: [], next: null }));
    await c.audit(patient, { limit: 5, after: "12:3" });
    const call = calls[0] as Call;
    const path = call.url.pathname + call.url.search;
    expect(path).toBe(`/patients/${patient.did}/audit?after=12%3A3&limit=5`);
    const verified = verifyRequest({ method: "GET", path, body: new Uint8Array(0) }, call.headers, {
      verifier: nobleVerifier,
      nowSeconds: Math.floor(Date.now() / 1000),
    });
    expect(verified).toMatchObject({ signer: patient.did, key: patient.key.did });
    expect(call.headers.authorization).toBeUndefined();

    const rotated = rotatedIdentity(patient, generateKey().signer);
    await c.consents(rotated);
    const second = calls[1] as Call;
    const rotatedVerified = verifyRequest(
      { method: "GET", path: second.url.pathname + second.url.search, body: new Uint8Array(0) },
      second.headers,
      { verifier: nobleVerifier, nowSeconds: Math.floor(Date.now() / 1000) },
    );
    expect(rotatedVerified).toMatchObject({ signer: patient.did, key: rotated.key.did });
    expect(rotatedVerified.nonce).not.toBe(verified.nonce);
  });

  it("uses the admin token for a patient given by DID, and a signer given by `as` over it", async () => {
    const { client: c, calls } = client(() => json(200, { items: [], next: null }), { adminToken: "t0k" });
    await c.consents(patient.did);
    expect(calls[0]?.headers.authorization).toBe("Bearer t0k");
    expect(calls[0]?.headers.signature).toBeUndefined();
    await c.consents(patient.did, { as: patient });
    expect(calls[1]?.headers.authorization).toBeUndefined();
    expect(calls[1]?.headers.signature).toMatch(/^sig1=:/);
  });

  it("submits the JSON view of a built tx, or { encoded } of bytes, with wait and its timeout", async () => {
    const built = txs.patientRegister(patient);
    const { client: c, calls } = client(() => json(202, { id: built.id, status: "pending" }));
    expect(await c.submit(built)).toEqual({ id: built.id, status: "pending" });
    expect(JSON.parse(calls[0]?.init.body as string)).toEqual(built.json);
    expect(calls[0]?.headers["content-type"]).toBe("application/json");
    await c.submit(built.encoded, { wait: true, waitMs: 2500 });
    expect(calls[1]?.url.search).toBe("?wait=true&timeoutMs=2500");
    expect(JSON.parse(calls[1]?.init.body as string)).toEqual({ encoded: toHex(built.encoded) });
    await c.submit(built.signed);
    expect(JSON.parse(calls[2]?.init.body as string)).toEqual(built.json);
  });

  it("submitBatch posts every transaction as { encoded }, checks one answer each, and bounds the batch", async () => {
    const built = [txs.patientRegister(patient), txs.patientRegister(provider)];
    const items = [
      { id: built[0]?.id, status: "committed", height: 3, txIndex: 0, result: { status: "ok", code: "ok" } },
      { status: "refused", error: { code: "TX_INVALID", message: "bad", reason: "SIGNATURE_INVALID" } },
    ];
    const { client: c, calls } = client(() => json(200, { items }));
    expect(await c.submitBatch(built, { wait: true, waitMs: 2000 })).toEqual(items);
    expect(calls[0]?.url.pathname).toBe("/txs/batch");
    expect(calls[0]?.url.search).toBe("?wait=true&timeoutMs=2000");
    expect(JSON.parse(calls[0]?.init.body as string)).toEqual({
      txs: built.map((tx) => ({ encoded: toHex(tx.encoded) })),
    });
    expect((await failure(c.submitBatch([]))).code).toBe("CLIENT_INPUT_INVALID");
    const short = client(() => json(200, { items: items.slice(0, 1) }));
    expect((await failure(short.client.submitBatch(built))).code).toBe("CLIENT_RESPONSE_INVALID");
    const bad = client(() => json(200, { items: [{ status: 3 }, { status: "pending" }] }));
    expect((await failure(bad.client.submitBatch(built))).code).toBe("CLIENT_RESPONSE_INVALID");
  });

  it("commit() polls past a pending answer and throws TX_REJECTED for a failed rule", async () => {
    const built = txs.patientRegister(patient);
    let polls = 0;
    const { client: c } = client((call) => {
      if (call.init.method === "POST") return json(202, { id: built.id, status: "pending" });
      polls++;
      return polls < 3
        ? json(200, { id: built.id, status: "pending" })
        : json(200, {
            id: built.id,
            status: "committed",
            height: 4,
            txIndex: 0,
            result: { status: "rejected", code: "identity-exists" },
          });
    });
    const error = await failure(c.commit(built, { timeoutMs: 5_000 }));
    expect(error).toMatchObject({ code: "TX_REJECTED", reason: "identity-exists", tx: built.id });
    expect(polls).toBe(3);
  });

  it("waitForCommit gives up with CLIENT_TIMEOUT naming the transaction", async () => {
    const id = "b".repeat(64);
    const { client: c } = client(() => json(200, { id, status: "unknown" }));
    expect(await failure(c.waitForCommit(id, { timeoutMs: 120, intervalMs: 20 }))).toMatchObject({
      code: "CLIENT_TIMEOUT",
      tx: id,
    });
  });

  it("returns the readiness body on 503, but an OVERLOADED 503 is an error", async () => {
    const body = { ready: false, leader: null, commitIndex: 3, appliedIndex: 1, lagEntriesMax: 16 };
    expect(await client(() => json(503, body)).client.ready()).toEqual(body);
    const overloaded = client(() =>
      json(503, { error: { code: "OVERLOADED", message: "busy" } }, { "retry-after": "1" }),
    );
    expect(await failure(overloaded.client.ready())).toMatchObject({
      code: "OVERLOADED",
      status: 503,
      retryAfterSeconds: 1,
    });
  });

  it("puts a record as base64 and reads one back with a built access.log, checking its hash", async () => {
    const content = utf8("record body ✓");
    const anchor = txs.recordAnchor(provider, {
      record: "r-1",
      patient: patient.did,
      category: "labs",
      content,
    });
    const disclosed = {
      record: "r-1",
      patient: patient.did,
      category: "labs",
      format: "Binary",
      contentHash: toHex(sha256(content)),
      content: btoa(String.fromCharCode(...content)),
      decision: "permitted",
      code: "consent",
      cites: null,
      accessLog: "c".repeat(64),
      height: 9,
    };
    const { client: c, calls } = client((call) =>
      call.init.method === "POST"
        ? json(201, {
            id: anchor.id,
            status: "committed",
            record: "r-1",
            height: 8,
            txIndex: 0,
            result: { status: "ok", code: "ok" },
          })
        : json(200, disclosed),
    );
    expect(await c.putRecord({ anchor, content })).toMatchObject({ status: "committed", record: "r-1" });
    expect(JSON.parse(calls[0]?.init.body as string)).toEqual({
      anchor: anchor.json,
      content: disclosed.content,
    });
    const read = await c.getRecord("r-1", {
      as: provider,
      accessLog: { patient: patient.did, category: "labs", purpose: "TREAT" },
    });
    expect(read.content).toEqual(content);
    const header = calls[1]?.headers["x-medledger-access-log"] as string;
    const { decodeSignedTx } = await import("@medledger/protocol");
    const log = decodeSignedTx(
      Uint8Array.from(header.match(/../g) ?? [], (byte) => Number.parseInt(byte, 16)),
    );
    expect(log.tx).toMatchObject({
      kind: "access.log",
      signer: provider.did,
      body: { record: "r-1", purpose: "TREAT" },
    });

    const lying = client(() => json(200, { ...disclosed, contentHash: "0".repeat(64) }));
    expect(
      await failure(
        lying.client.getRecord("r-1", {
          as: provider,
          accessLog: txs.accessLog(provider, {
            patient: patient.did,
            category: "labs",
            purpose: "TREAT",
            record: "r-1",
          }),
        }),
      ),
    ).toMatchObject({ code: "CLIENT_CONTENT_MISMATCH" });
    expect(await failure(c.getRecord("..", { as: provider, accessLog: new Uint8Array(1) }))).toMatchObject({
      code: "CLIENT_INPUT_INVALID",
    });
  });

  it("reads metrics as text and block pages with their cursor", async () => {
    const header = blockHeaderToJson(sampleBlock().header);
    const { client: c, calls } = client((call) =>
      call.url.pathname === "/metrics"
        ? new Response("medledger_block_height 3\n", {
            status: 200,
            headers: { "content-type": "text/plain" },
          })
        : json(200, { blocks: [{ height: 1, hash: "d".repeat(64), time: 1, txCount: 0, header }], next: 2 }),
    );
    expect(await c.metrics()).toContain("medledger_block_height 3");
    expect(await c.getBlocks({ from: 1, limit: 1 })).toMatchObject({ next: 2, blocks: [{ height: 1 }] });
    expect(calls[1]?.url.search).toBe("?from=1&limit=1");
  });
});

describe("events", () => {
  function sse(chunks: string[], signal?: AbortSignal | null, keepOpen = false): Response {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(utf8(chunk));
        if (!keepOpen) controller.close();
        signal?.addEventListener("abort", () => controller.error(new DOMException("aborted", "AbortError")));
      },
    });
    return new Response(body, { status: 200, headers: { "content-type": "text/event-stream" } });
  }

  it("yields typed events, skips comments and unknown types, ends with the stream", async () => {
    const { client: c, calls } = client(() =>
      sse([
        ": blocks\nretry: 2000\n\n",
        'event: block\nid: 5\ndata: {"height":5,"hash":"',
        `${"e".repeat(64)}","time":1,"txCount":2}\n\nevent: future-kind\ndata: {}\n\n`,
        ": keep-alive\n\n",
      ]),
    );
    const stream = await c.events();
    const events = [];
    for await (const event of stream) events.push(event);
    expect(events).toEqual([
      { type: "block", id: "5", data: { height: 5, hash: "e".repeat(64), time: 1, txCount: 2 } },
    ]);
    expect(calls[0]?.url.pathname + (calls[0]?.url.search ?? "")).toBe("/events");
    expect(calls[0]?.headers.accept).toBe("text/event-stream");
  });

  it("signs a patient's stream and ends quietly on close()", async () => {
    const access = {
      patient: patient.did,
      provider: provider.did,
      tx: "f".repeat(64),
      category: "labs",
      purpose: "ETREAT",
      record: null,
      decision: "emergency",
      code: "emergency",
      cites: "a".repeat(64),
      flagged: true,
      height: 7,
    };
    const { client: c, calls } = client((call) =>
      sse([`event: access\nid: 7\ndata: ${JSON.stringify(access)}\n\n`], call.init.signal, true),
    );
    const stream = await c.events({ patient });
    expect(calls[0]?.url.search).toBe(`?patient=${encodeURIComponent(patient.did)}`);
    expect(calls[0]?.headers.signature).toMatch(/^sig1=:/);
    const first = await stream.next();
    expect(first.value).toEqual({ type: "access", id: "7", data: access });
    stream.close();
    expect((await stream.next()).done).toBe(true);
  });

  it("throws the API's error when the stream is refused", async () => {
    const { client: c } = client(() => json(401, { error: { code: "REQUEST_STALE", message: "clock" } }));
    expect(await failure(c.events({ patient }))).toMatchObject({ code: "REQUEST_STALE", status: 401 });
  });

  it("fails with CLIENT_STREAM_INVALID on a known event without JSON", async () => {
    const { client: c } = client(() => sse(["event: block\ndata: {oops\n\n"]));
    const stream = await c.events();
    expect(await failure(stream.next())).toMatchObject({ code: "CLIENT_STREAM_INVALID" });
  });
});

/** A block of three transactions, signed by a proposer key. */
function sampleBlock() {
  const built = [
    txs.patientRegister(patient),
    txs.patientRegister(provider),
    txs.recordErase(patient, { record: "x" }),
  ];
  const leaves = built.map((tx) => tx.encoded);
  const proposer = nobleSigner(sha256(utf8("proposer")));
  const header = {
    v: 1 as const,
    chain,
    height: 12,
    prev: sha256(utf8("prev")),
    time: 1_800_000_000_000,
    proposer: proposer.did,
    txRoot: merkleRoot(leaves),
    resultRoot: sha256(utf8("results")),
    appHash: sha256(utf8("app")),
    raftTerm: 2,
    raftIndex: 40,
  };
  return { built, leaves, header, sig: signBlockHeader(header, proposer) };
}

describe("inclusion proofs, verified locally", () => {
  const block = sampleBlock();
  const tx = block.built[1] as (typeof block.built)[number];
  const answer = {
    id: tx.id,
    status: "committed" as const,
    height: 12,
    txIndex: 1,
    result: { status: "ok" as const, code: "ok" },
    tx: tx.json,
    encoded: toHex(tx.encoded),
    proof: merkleProofToJson(merkleProof(block.leaves, 1)),
    blockHash: toHex(blockHash(block.header)),
    header: blockHeaderToJson(block.header),
  };
  const { client: c } = client(() => json(200, {}));

  it("accepts a true proof", () => {
    expect(c.verifyInclusion(answer)).toMatchObject({
      id: tx.id,
      height: 12,
      txIndex: 1,
      blockHash: answer.blockHash,
    });
  });

  it.each([
    ["another leaf", { encoded: toHex(block.leaves[0] as Uint8Array) }],
    ["another id", { id: block.built[0]?.id as string }],
    ["a wrong sibling", { proof: { ...answer.proof, path: answer.proof.path.map(() => "0".repeat(64)) } }],
    ["a wrong index", { proof: { ...answer.proof, index: 2 }, txIndex: 2 }],
    ["a header that is not the hashed one", { header: { ...answer.header, time: answer.header.time + 1 } }],
    ["a wrong block hash", { blockHash: "1".repeat(64) }],
    ["another height", { height: 13 }],
    ["a pending status", { status: "pending" as const }],
    ["no proof", { proof: "drop" }],
  ])("refuses %s with CLIENT_PROOF_INVALID", (_what, change) => {
    const { proof, ...rest } = { ...answer, ...change };
    const changed: TxDetail = proof === "drop" ? rest : { ...rest, proof: proof as MerkleProofJson };
    expect(() => c.verifyInclusion(changed)).toThrow(
      expect.objectContaining({ code: "CLIENT_PROOF_INVALID" }),
    );
  });

  it("verifyTx also checks the block the node serves and its proposer's signature", async () => {
    const blockAnswer = {
      height: 12,
      hash: answer.blockHash,
      header: answer.header,
      sig: toHex(block.sig),
      txs: block.built.map((b) => b.json),
      results: [],
      ids: block.built.map((b) => b.id),
    };
    const good = client((call) => json(200, call.url.pathname.startsWith("/txs/") ? answer : blockAnswer));
    expect(await good.client.verifyTx(tx.id)).toMatchObject({ id: tx.id });
    const forged = client((call) =>
      json(200, call.url.pathname.startsWith("/txs/") ? answer : { ...blockAnswer, sig: "00".repeat(64) }),
    );
    expect(await failure(forged.client.verifyTx(tx.id))).toMatchObject({ code: "CLIENT_PROOF_INVALID" });
  });
});
