// Goal: every route of the node's HTTP API answers as docs/api.md says, and every error path answers a
// stable code. Method: a real one-node network (SQLite, libp2p, the ledger, a vault), the API built over
// it and driven with app.inject(); transactions and requests are signed as a client would.
import { randomBytes } from "node:crypto";
import {
  blockHash,
  blockHeaderFromJson,
  fromHex,
  merkleProofFromJson,
  type Signer,
  signRequest,
  utf8,
  verifyMerkleProof,
} from "@medledger/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_ERROR_CODES } from "../src/api/errors.js";
import { ACCESS_LOG_HEADER } from "../src/api/routes/records.js";
import {
  ADMIN,
  type ApiFixture,
  accessLogOf,
  anchorOf,
  people,
  registerProvider,
  signed,
  singleNodeApi,
} from "./api-helpers.js";
import { signerFor } from "./node-helpers.js";

let fx: ApiFixture;
const who = people("api");

function signedHeaders(
  method: string,
  url: string,
  signer: Signer,
  overrides: { created?: number; nonce?: string } = {},
): Record<string, string> {
  return {
    ...signRequest(
      { method, path: url, body: new Uint8Array(0) },
      {
        signer: signer.did,
        key: signer,
        created: overrides.created ?? Math.floor(Date.now() / 1000),
        nonce: overrides.nonce ?? randomBytes(16).toString("base64url"),
      },
    ),
  };
}

async function commit(tx: { json: object }) {
  const response = await fx.app.inject({
    method: "POST",
    url: "/txs?wait=true&timeoutMs=10000",
    payload: tx.json,
  });
  expect(response.statusCode, response.body).toBe(200);
  return response.json();
}

function expectError(response: { statusCode: number; json(): unknown }, status: number, code: string) {
  expect(response.statusCode).toBe(status);
  const body = response.json() as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe("string");
  expect(API_ERROR_CODES[code as keyof typeof API_ERROR_CODES][0]).toBe(status);
}

beforeAll(async () => {
  fx = await singleNodeApi("api");
});

afterAll(async () => {
  await fx?.close();
});

describe("node routes", () => {
  it("GET /health and /ready answer ok on a node with a leader", async () => {
    expect((await fx.app.inject({ url: "/health" })).json()).toEqual({ status: "ok" });
    const ready = await fx.app.inject({ url: "/ready" });
    expect(ready.statusCode).toBe(200);
    expect(ready.json().ready).toBe(true);
  });

  it("GET /status names the node, its role, members and peers", async () => {
    const status = (await fx.app.inject({ url: "/status" })).json();
    expect(status.node).toBe(fx.node.id);
    expect(status.role).toBe("leader");
    expect(status.leader).toBe(fx.node.id);
    expect(status.chain).toBe(fx.chain);
    expect(status.member).toBe(fx.member.did);
    expect(status.members).toEqual([{ did: fx.member.did, nodes: [fx.node.id] }]);
    expect(status.peers).toEqual({ connected: 0, ids: [] });
    for (const key of ["term", "height", "commitIndex", "appliedIndex", "mempoolSize"]) {
      expect(typeof status[key]).toBe("number");
    }
    expect(status.blockHash).toMatch(/^[0-9a-f]{64}$/);
    expect(status.appHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("unknown routes answer 404 NOT_FOUND", async () => {
    expectError(await fx.app.inject({ url: "/nope" }), 404, "NOT_FOUND");
  });
});

describe("transactions and blocks", () => {
  it("POST /txs accepts JSON and encoded forms, is idempotent, and GET /txs/{id} proves inclusion", async () => {
    const patient = signed(fx.chain, "patient.register", who.patient, {});
    const first = await fx.app.inject({ method: "POST", url: "/txs", payload: patient.json });
    expect([200, 202]).toContain(first.statusCode);
    expect(first.json().id).toBe(patient.id);
    const again = await fx.app.inject({
      method: "POST",
      url: "/txs?wait=true&timeoutMs=10000",
      payload: { encoded: patient.hex },
    });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({
      id: patient.id,
      status: "committed",
      result: { status: "ok", code: "ok" },
    });

    const detail = (await fx.app.inject({ url: `/txs/${patient.id}` })).json();
    expect(detail.status).toBe("committed");
    expect(detail.tx).toEqual(patient.json);
    const header = blockHeaderFromJson(detail.header);
    verifyMerkleProof({
      root: header.txRoot,
      leaf: fromHex(detail.encoded),
      proof: merkleProofFromJson(detail.proof),
    });
    expect(Buffer.from(blockHash(header)).toString("hex")).toBe(detail.blockHash);

    const block = (await fx.app.inject({ url: `/blocks/${detail.height}` })).json();
    expect(block.ids).toContain(patient.id);
    expect(block.hash).toBe(detail.blockHash);
    const page = (await fx.app.inject({ url: "/blocks?from=1&limit=2" })).json();
    expect(page.blocks[0].height).toBe(1);
    expect(page.blocks.length).toBeLessThanOrEqual(2);
  });

  it("GET /txs/{id} of an unknown id answers status unknown", async () => {
    const response = await fx.app.inject({ url: `/txs/${"0".repeat(64)}` });
    expect(response.json()).toEqual({ id: "0".repeat(64), status: "unknown" });
  });

  it("bad transactions answer 400 TX_INVALID with the protocol's code", async () => {
    const tx = signed(fx.chain, "patient.register", who.other, {});
    const tampered = { ...tx.json, tx: { ...tx.json.tx, nonce: tx.json.tx.nonce + 1 } };
    const forged = await fx.app.inject({ method: "POST", url: "/txs", payload: tampered });
    expectError(forged, 400, "TX_INVALID");
    expect(forged.json().error.reason).toBe("SIGNATURE_INVALID");
    const garbage = await fx.app.inject({ method: "POST", url: "/txs", payload: { encoded: "00ff" } });
    expectError(garbage, 400, "TX_INVALID");
    const otherChain = signed("another-chain", "patient.register", who.other, {});
    const wrongChain = await fx.app.inject({ method: "POST", url: "/txs", payload: otherChain.json });
    expectError(wrongChain, 400, "TX_INVALID");
    expect(wrongChain.json().error.reason).toBe("chain-mismatch");
  });

  it("POST /txs/batch answers each transaction in order; a refused one does not affect the others", async () => {
    const fresh = Array.from({ length: 5 }, (_, index) =>
      signed(fx.chain, "patient.register", signerFor(`batch-patient-${index}`), {}),
    );
    const forged = { encoded: fresh[0]?.hex.replace(/..$/, "00") ?? "" };
    const otherChain = signed("another-chain", "patient.register", signerFor("batch-other"), {});
    const txs = [
      ...fresh.map((tx) => ({ encoded: tx.hex })),
      forged,
      { encoded: otherChain.hex },
      { encoded: fresh[1]?.hex ?? "" },
    ];
    const answer = await fx.app.inject({
      method: "POST",
      url: "/txs/batch?wait=true&timeoutMs=10000",
      payload: { txs },
    });
    expect(answer.statusCode).toBe(200);
    const items = answer.json().items as Array<{
      id?: string;
      status: string;
      error?: { code: string; reason?: string };
      result?: { code: string };
    }>;
    expect(items).toHaveLength(txs.length);
    fresh.forEach((tx, index) => {
      expect(items[index]).toMatchObject({ id: tx.id, status: "committed", result: { code: "ok" } });
    });
    expect(items[5]).toMatchObject({ status: "refused", error: { code: "TX_INVALID" } });
    expect(items[6]).toMatchObject({
      status: "refused",
      error: { code: "TX_INVALID", reason: "chain-mismatch" },
    });
    expect(items[7]).toMatchObject({ id: fresh[1]?.id, status: "committed" });
    for (const tx of fresh) {
      const detail = await fx.app.inject({ url: `/txs/${tx.id}` });
      expect(detail.json().status).toBe("committed");
    }
    // Without wait: already committed ones say so at once.
    const again = await fx.app.inject({
      method: "POST",
      url: "/txs/batch",
      payload: { txs: txs.slice(0, 2) },
    });
    expect(again.json().items.map((item: { status: string }) => item.status)).toEqual([
      "committed",
      "committed",
    ]);
  });

  it("POST /txs/batch refuses an empty, oversized or malformed batch as a whole", async () => {
    expectError(
      await fx.app.inject({ method: "POST", url: "/txs/batch", payload: { txs: [] } }),
      400,
      "VALIDATION_FAILED",
    );
    const tooMany = Array.from({ length: 1025 }, () => ({ encoded: "00" }));
    expectError(
      await fx.app.inject({ method: "POST", url: "/txs/batch", payload: { txs: tooMany } }),
      400,
      "VALIDATION_FAILED",
    );
    expectError(
      await fx.app.inject({ method: "POST", url: "/txs/batch", payload: { txs: [{ encoded: "0g" }] } }),
      400,
      "VALIDATION_FAILED",
    );
    expectError(
      await fx.app.inject({ method: "POST", url: "/txs/batch", payload: { txs: "x" } }),
      400,
      "VALIDATION_FAILED",
    );
  });

  it("bad input answers 400 VALIDATION_FAILED or BODY_INVALID with the field", async () => {
    const missing = await fx.app.inject({ method: "POST", url: "/txs", payload: { nothing: 1 } });
    expectError(missing, 400, "VALIDATION_FAILED");
    const badJson = await fx.app.inject({
      method: "POST",
      url: "/txs",
      headers: { "content-type": "application/json" },
      payload: "{not json",
    });
    expectError(badJson, 400, "BODY_INVALID");
    const badHeight = await fx.app.inject({ url: "/blocks/abc" });
    expectError(badHeight, 400, "VALIDATION_FAILED");
    expect(badHeight.json().error.field).toContain("params");
    expectError(await fx.app.inject({ url: "/blocks/999999" }), 404, "BLOCK_NOT_FOUND");
    expectError(await fx.app.inject({ url: "/blocks?limit=100000" }), 400, "VALIDATION_FAILED");
    const wrongType = await fx.app.inject({
      method: "POST",
      url: "/txs",
      headers: { "content-type": "application/xml" },
      payload: "<hello/>",
    });
    expectError(wrongType, 415, "UNSUPPORTED_MEDIA_TYPE");
    const huge = await fx.app.inject({
      method: "POST",
      url: "/txs",
      payload: { encoded: "00".repeat(70_000) },
    });
    expectError(huge, 413, "BODY_TOO_LARGE");
  });
});

describe("patients, access and records", () => {
  const content = utf8('{"resourceType":"Observation","value":42}');
  const record = "rec-api-1";

  it("registers the provider, anchors a record via POST /records, checks and reads it", async () => {
    await commit(registerProvider(fx.chain, fx.member, who.provider));
    await commit(signed(fx.chain, "patient.register", who.patient, {})).catch(() => undefined);
    const anchor = anchorOf(fx.chain, who.provider, {
      record,
      patient: who.patient.did,
      category: "labs",
      content,
    });
    const stored = await fx.app.inject({
      method: "POST",
      url: "/records",
      payload: { anchor: anchor.json, content: Buffer.from(content).toString("base64") },
    });
    expect(stored.statusCode, stored.body).toBe(201);
    expect(stored.json()).toMatchObject({ id: anchor.id, status: "committed", record });
    const retried = await fx.app.inject({
      method: "POST",
      url: "/records",
      payload: { anchor: { encoded: anchor.hex }, content: Buffer.from(content).toString("base64") },
    });
    expect(retried.statusCode).toBe(201);

    const check = `/access/check?provider=${who.provider.did}&patient=${who.patient.did}&category=labs&purpose=TREAT&record=${record}`;
    expect((await fx.app.inject({ url: check })).json()).toMatchObject({
      decision: "denied",
      code: "no-consent",
    });

    // Denied read: 403 with the committed decision, and the attempt is in the audit trail.
    const denied = accessLogOf(fx.chain, who.provider, {
      patient: who.patient.did,
      category: "labs",
      purpose: "TREAT",
      record,
    });
    const url = `/records/${record}`;
    const deniedResponse = await fx.app.inject({
      url,
      headers: { ...signedHeaders("GET", url, who.provider), [ACCESS_LOG_HEADER]: denied.hex },
    });
    expectError(deniedResponse, 403, "ACCESS_DENIED");
    expect(deniedResponse.json().error).toMatchObject({
      decision: "denied",
      reason: "no-consent",
      tx: denied.id,
    });

    await commit(
      signed(fx.chain, "consent.grant", who.patient, {
        grantee: who.provider.did,
        categories: ["labs"],
        records: [],
        purposes: ["TREAT"],
        notBefore: Date.now() - 1000,
        expires: Date.now() + 86_400_000,
      }),
    );
    expect((await fx.app.inject({ url: check })).json()).toMatchObject({
      decision: "permitted",
      code: "consent",
    });

    const permitted = accessLogOf(fx.chain, who.provider, {
      patient: who.patient.did,
      category: "labs",
      purpose: "TREAT",
      record,
    });
    const read = await fx.app.inject({
      url,
      headers: { ...signedHeaders("GET", url, who.provider), [ACCESS_LOG_HEADER]: permitted.hex },
    });
    expect(read.statusCode, read.body).toBe(200);
    expect(Buffer.from(read.json().content, "base64").toString()).toBe(Buffer.from(content).toString());
    expect(read.json()).toMatchObject({
      decision: "permitted",
      code: "consent",
      accessLog: permitted.id,
      category: "labs",
    });

    const auditUrl = `/patients/${who.patient.did}/audit?limit=10`;
    const audit = await fx.app.inject({
      url: auditUrl,
      headers: signedHeaders("GET", auditUrl, who.patient),
    });
    expect(audit.statusCode, audit.body).toBe(200);
    const decisions = audit
      .json()
      .items.map((row: { tx: string; decision: string; flagged: boolean }) => [
        row.tx,
        row.decision,
        row.flagged,
      ]);
    expect(decisions).toEqual([
      [denied.id, "denied", true],
      [permitted.id, "permitted", false],
    ]);
    const consents = await fx.app.inject({
      url: `/patients/${who.patient.did}/consents`,
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(consents.json().items).toHaveLength(1);
    const paged = await fx.app.inject({
      url: `/patients/${who.patient.did}/audit?limit=1`,
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(paged.json().items).toHaveLength(1);
    const next = paged.json().next as string;
    const second = await fx.app.inject({
      url: `/patients/${who.patient.did}/audit?limit=1&after=${next}`,
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(second.json().items[0].tx).toBe(permitted.id);
  });

  it("refuses missing, bad, stale, replayed and other people's signed requests with 401/403 codes", async () => {
    const url = `/patients/${who.patient.did}/consents`;
    expectError(await fx.app.inject({ url }), 401, "REQUEST_SIGNATURE_MISSING");
    expectError(
      await fx.app.inject({ url, headers: { authorization: "Bearer nope" } }),
      401,
      "ADMIN_TOKEN_INVALID",
    );
    const headers = signedHeaders("GET", url, who.patient);
    expect((await fx.app.inject({ url, headers })).statusCode).toBe(200);
    expectError(await fx.app.inject({ url, headers }), 401, "REQUEST_REPLAYED");
    const stale = signedHeaders("GET", url, who.patient, { created: Math.floor(Date.now() / 1000) - 3600 });
    expectError(await fx.app.inject({ url, headers: stale }), 401, "REQUEST_STALE");
    const wrongPath = signedHeaders("GET", `${url}?limit=2`, who.patient);
    expectError(await fx.app.inject({ url, headers: wrongPath }), 401, "REQUEST_SIGNATURE_INVALID");
    const byOther = signedHeaders("GET", url, who.provider);
    expectError(await fx.app.inject({ url, headers: byOther }), 403, "FORBIDDEN");
    const garbled = { ...signedHeaders("GET", url, who.patient), signature: "sig1=:AAAA:" };
    expectError(await fx.app.inject({ url, headers: garbled }), 401, "REQUEST_SIGNATURE_INVALID");
  });

  it("record error paths: not held, gone, bad access.log, bad anchor, hash mismatch", async () => {
    const url = "/records/no-such-record";
    const log = accessLogOf(fx.chain, who.provider, {
      patient: who.patient.did,
      category: "labs",
      purpose: "TREAT",
      record: "no-such-record",
    });
    expectError(
      await fx.app.inject({
        url,
        headers: { ...signedHeaders("GET", url, who.provider), [ACCESS_LOG_HEADER]: log.hex },
      }),
      404,
      "RECORD_NOT_HELD_HERE",
    );
    expectError(
      await fx.app.inject({ url, headers: signedHeaders("GET", url, who.provider) }),
      400,
      "ACCESS_LOG_INVALID",
    );
    const wrongRecord = `/records/${record}`;
    expectError(
      await fx.app.inject({
        url: wrongRecord,
        headers: { ...signedHeaders("GET", wrongRecord, who.provider), [ACCESS_LOG_HEADER]: log.hex },
      }),
      400,
      "ACCESS_LOG_INVALID",
    );
    expectError(
      await fx.app.inject({ url: wrongRecord, headers: { authorization: `Bearer ${ADMIN}` } }),
      403,
      "FORBIDDEN",
    );

    const other = utf8("other content");
    const mismatch = anchorOf(fx.chain, who.provider, {
      record: "rec-api-2",
      patient: who.patient.did,
      category: "labs",
      content: other,
    });
    expectError(
      await fx.app.inject({
        method: "POST",
        url: "/records",
        payload: { anchor: mismatch.json, content: Buffer.from("x").toString("base64") },
      }),
      400,
      "CONTENT_HASH_MISMATCH",
    );
    const stranger = anchorOf(fx.chain, who.other, {
      record: "rec-api-3",
      patient: who.patient.did,
      category: "labs",
      content: other,
    });
    expectError(
      await fx.app.inject({
        method: "POST",
        url: "/records",
        payload: { anchor: stranger.json, content: Buffer.from(other).toString("base64") },
      }),
      403,
      "NOT_HOLDER_PROVIDER",
    );
    const duplicate = anchorOf(fx.chain, who.provider, {
      record,
      patient: who.patient.did,
      category: "labs",
      content: other,
    });
    expectError(
      await fx.app.inject({
        method: "POST",
        url: "/records",
        payload: { anchor: duplicate.json, content: Buffer.from(other).toString("base64") },
      }),
      409,
      "RECORD_EXISTS",
    );
    const unknownPatient = anchorOf(fx.chain, who.provider, {
      record: "rec-api-4",
      patient: who.other.did,
      category: "labs",
      content: other,
    });
    const rejected = await fx.app.inject({
      method: "POST",
      url: "/records",
      payload: { anchor: unknownPatient.json, content: Buffer.from(other).toString("base64") },
    });
    expectError(rejected, 422, "TX_REJECTED");
    expect(rejected.json().error.reason).toBe("patient-unknown");
    expect(fx.vault.get("rec-api-4").state).toBe("absent");

    await commit(signed(fx.chain, "record.erase", who.patient, { record }));
    expect(fx.vault.get(record).state).toBe("erased");
    const gone = accessLogOf(fx.chain, who.provider, {
      patient: who.patient.did,
      category: "labs",
      purpose: "TREAT",
      record,
    });
    expectError(
      await fx.app.inject({
        url: wrongRecord,
        headers: { ...signedHeaders("GET", wrongRecord, who.provider), [ACCESS_LOG_HEADER]: gone.hex },
      }),
      410,
      "GONE",
    );
  });
});

describe("metrics and OpenAPI", () => {
  it("GET /metrics exposes the consensus, chain and API metrics", async () => {
    const response = await fx.app.inject({ url: "/metrics" });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toContain("text/plain");
    for (const name of [
      'medledger_consensus_role{role="leader"} 1',
      "medledger_consensus_term",
      "medledger_consensus_apply_lag_entries",
      "medledger_block_height",
      "medledger_block_interval_seconds",
      "medledger_mempool_size",
      "medledger_committed_txs_total",
      "medledger_submit_to_commit_seconds",
      'medledger_api_request_seconds_count{route="/txs",method="POST",status="200"}',
      "medledger_peers_connected 0",
      "medledger_backfill_running 0",
      "medledger_backfill_blocks_stored 0",
    ]) {
      expect(response.body).toContain(name);
    }
  });

  it("GET /docs/json lists every route and validates as OpenAPI 3", async () => {
    const document = (await fx.app.inject({ url: "/docs/json" })).json();
    expect(document.info.version).toBe("v1");
    const paths = Object.entries(document.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(paths.sort()).toEqual(
      [
        "GET /health",
        "GET /ready",
        "GET /status",
        "GET /metrics",
        "POST /txs",
        "POST /txs/batch",
        "GET /txs/{id}",
        "GET /blocks/{height}",
        "GET /blocks",
        "GET /patients/{did}/consents",
        "GET /patients/{did}/audit",
        "GET /access/check",
        "POST /records",
        "GET /records/{id}",
        "GET /events",
      ].sort(),
    );
    const { default: SwaggerParser } = await import("@apidevtools/swagger-parser");
    await SwaggerParser.validate(structuredClone(document));
    expect((await fx.app.inject({ url: "/docs" })).statusCode).toBeLessThan(400);
  });
});
