// Goal: no input makes the API answer 5xx or stop serving. Method: fast-check sends malformed JSON,
// wrong types, oversized bodies, random and bad/replayed/stale signatures to every route of a real
// one-node API (app.inject); every answer must be 4xx with a stable code from API_ERROR_CODES, and the
// node must still commit a transaction afterwards.
import { randomBytes } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { signRequest } from "@medledger/protocol";
import fc from "fast-check";
import type { InjectOptions } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_ERROR_CODES } from "../src/api/errors.js";
import { ACCESS_LOG_HEADER } from "../src/api/routes/records.js";
import { type ApiFixture, people, signed, singleNodeApi } from "./api-helpers.js";

let fx: ApiFixture;
const who = people("fuzz");
const RUNS = 40;

beforeAll(async () => {
  fx = await singleNodeApi("api-fuzz");
});

afterAll(async () => {
  await fx?.close();
});

type Inject = InjectOptions;

async function expectStable4xx(request: Inject): Promise<void> {
  const response = await fx.app.inject(request);
  const where = `${JSON.stringify(request).slice(0, 300)} -> ${response.statusCode} ${response.body.slice(0, 300)}`;
  expect(response.statusCode, where).toBeGreaterThanOrEqual(400);
  expect(response.statusCode, where).toBeLessThan(500);
  const body = response.json() as { error?: { code?: string; message?: string } };
  expect(body.error?.code !== undefined && body.error.code in API_ERROR_CODES, where).toBe(true);
  expect(typeof body.error?.message, where).toBe("string");
}

/** A path segment that is never a valid id, DID or height. */
const junkSegment = fc
  .string({ minLength: 1, maxLength: 80 })
  .filter((text) => !/^[0-9a-f]{64}$/.test(text) && !/^did:key:z/.test(text) && !/^[1-9][0-9]*$/.test(text))
  .map((text) => encodeURIComponent(text));

const junkHeaderValue = fc.string({ maxLength: 200 }).map((text) => text.replace(/[^\x20-\x7e]/g, "a"));

const signatureHeaders = fc.record({
  "content-digest": junkHeaderValue,
  "signature-input": junkHeaderValue,
  signature: junkHeaderValue,
});

describe("every route answers bad input with a stable 4xx", () => {
  it("POST /txs and POST /records: arbitrary JSON bodies", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.jsonValue(),
        fc.constantFrom("/txs", "/txs?wait=true&timeoutMs=1", "/records"),
        async (body, url) => {
          await expectStable4xx({
            method: "POST",
            url,
            payload: JSON.stringify(body),
            headers: { "content-type": "application/json" },
          });
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("POST routes: malformed JSON text, wrong content types, oversized bodies", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 200 }).map((text) => ({ type: "application/json", payload: `{${text}` })),
          fc
            .string({ maxLength: 200 })
            .map((text) => ({ type: "application/x-www-form-urlencoded", payload: text })),
          fc.integer({ min: 64 * 1024 + 1, max: 200 * 1024 }).map((size) => ({
            type: "application/json",
            payload: JSON.stringify({ encoded: "0".repeat(size) }),
          })),
        ),
        fc.constantFrom("/txs", "/records"),
        async (input, url) => {
          await expectStable4xx({
            method: "POST",
            url,
            payload: input.payload,
            headers: { "content-type": input.type },
          });
        },
      ),
      { numRuns: RUNS },
    );
    await expectStable4xx({
      method: "POST",
      url: "/records",
      payload: JSON.stringify({ anchor: { encoded: "00" }, content: "A".repeat(9 * 1024 * 1024) }),
      headers: { "content-type": "application/json" },
    });
  });

  it("POST /txs: valid-looking transactions with wrong types and broken fields", async () => {
    const base = signed(fx.chain, "patient.register", who.patient, {}).json;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("v", "chain", "kind", "signer", "nonce", "expires", "body"),
        fc.oneof(fc.jsonValue(), fc.string(), fc.integer(), fc.constant(null)),
        async (field, value) => {
          // The field's own value (e.g. body {}) leaves a valid transaction: not a broken one.
          fc.pre(!isDeepStrictEqual(value, (base.tx as unknown as Record<string, unknown>)[field]));
          const tx = { ...base, tx: { ...base.tx, [field]: value } };
          await expectStable4xx({ method: "POST", url: "/txs", payload: tx });
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("POST /txs: a body's values are never coerced to the schema's types (regression: v: true was taken as 1)", async () => {
    const base = signed(fx.chain, "patient.register", who.patient, {}).json;
    const coercible: Array<[string, unknown]> = [
      ["v", true],
      ["v", "1"],
      ["v", [1]],
      ["nonce", String(base.tx.nonce)],
      ["expires", String(base.tx.expires)],
    ];
    for (const [field, value] of coercible) {
      const tx = { ...base, tx: { ...base.tx, [field]: value } };
      await expectStable4xx({ method: "POST", url: "/txs", payload: tx });
    }
  });

  it("GET routes: junk params and queries", async () => {
    await fc.assert(
      fc.asyncProperty(
        junkSegment,
        fc.constantFrom(
          (s: string) => `/txs/${s}`,
          (s: string) => `/blocks/${s}`,
          (s: string) => `/blocks?from=${s}`,
          (s: string) => `/blocks?limit=${s}`,
          (s: string) => `/patients/${s}/consents`,
          (s: string) => `/patients/${s}/audit`,
          (s: string) => `/access/check?provider=${s}&patient=${s}&category=labs&purpose=TREAT`,
          (s: string) =>
            `/access/check?provider=${who.other.did}&patient=${who.patient.did}&category=${s}&purpose=TREAT`,
          (s: string) => `/events?patient=${s}`,
          (s: string) => `/records/${s}`,
          (s: string) => `/no/such/${s}`,
        ),
        async (segment, route) => {
          await expectStable4xx({ method: "GET", url: route(segment) });
        },
      ),
      { numRuns: RUNS * 2 },
    );
  });

  it("signed routes: random signature headers, bad tokens, stale and replayed signatures", async () => {
    const routes = [
      `/patients/${who.patient.did}/consents`,
      `/patients/${who.patient.did}/audit`,
      `/events?patient=${who.patient.did}`,
      "/records/some-record",
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        signatureHeaders,
        junkHeaderValue,
        async (url, headers, accessLog) => {
          await expectStable4xx({
            method: "GET",
            url,
            headers: { ...headers, [ACCESS_LOG_HEADER]: accessLog },
          });
          await expectStable4xx({ method: "GET", url, headers: { authorization: `Bearer ${accessLog}` } });
        },
      ),
      { numRuns: RUNS },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.oneof(fc.integer({ min: -100_000, max: -301 }), fc.integer({ min: 301, max: 100_000 })),
        async (url, offset) => {
          const stale = signRequest(
            { method: "GET", path: url, body: new Uint8Array(0) },
            {
              signer: who.patient.did,
              key: who.patient,
              created: Math.floor(Date.now() / 1000) + offset,
              nonce: randomBytes(16).toString("base64url"),
            },
          );
          const response = await fx.app.inject({ method: "GET", url, headers: { ...stale } });
          expect(response.statusCode).toBe(401);
          expect(response.json().error.code).toBe("REQUEST_STALE");
        },
      ),
      { numRuns: RUNS },
    );
    // Replays: the first use passes authentication (its answer may be any 2xx/4xx), every reuse is 401.
    const url = `/patients/${who.patient.did}/audit`;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 3 }), async (reuses) => {
        const headers = {
          ...signRequest(
            { method: "GET", path: url, body: new Uint8Array(0) },
            {
              signer: who.patient.did,
              key: who.patient,
              created: Math.floor(Date.now() / 1000),
              nonce: randomBytes(16).toString("base64url"),
            },
          ),
        };
        expect((await fx.app.inject({ method: "GET", url, headers })).statusCode).toBe(200);
        for (let index = 0; index < reuses; index++) {
          const again = await fx.app.inject({ method: "GET", url, headers });
          expect(again.statusCode).toBe(401);
          expect(again.json().error.code).toBe("REQUEST_REPLAYED");
        }
      }),
      { numRuns: 10 },
    );
  });

  it("keeps serving: health is ok and a transaction still commits", async () => {
    expect((await fx.app.inject({ url: "/health" })).statusCode).toBe(200);
    const tx = signed(fx.chain, "patient.register", who.other, {});
    const response = await fx.app.inject({
      method: "POST",
      url: "/txs?wait=true&timeoutMs=10000",
      payload: tx.json,
    });
    expect(response.statusCode).toBe(200);
  });
});

describe("rate limit", () => {
  it("answers 429 RATE_LIMITED with Retry-After once a client exceeds its budget", async () => {
    const limited = await singleNodeApi("api-rate", { rateLimitMax: 3 });
    try {
      const codes: number[] = [];
      for (let index = 0; index < 5; index++)
        codes.push((await limited.app.inject({ url: "/health" })).statusCode);
      expect(codes.slice(0, 3)).toEqual([200, 200, 200]);
      const response = await limited.app.inject({ url: "/health" });
      expect(response.statusCode).toBe(429);
      expect(response.json().error.code).toBe("RATE_LIMITED");
      expect(Number(response.headers["retry-after"])).toBeGreaterThan(0);
    } finally {
      await limited.close();
    }
  });
});
