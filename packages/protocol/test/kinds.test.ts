// Goal: every transaction body is validated by its declarative schema with stable error codes and
// field paths. Method: one good body per kind, targeted bad bodies, a JSON round-trip property, and
// random junk that must only ever raise a ProtocolError.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toHex } from "../src/bytes.js";
import { base58Encode, DID_KEY_PREFIX } from "../src/did.js";
import { isProtocolError, type ProtocolErrorCode } from "../src/errors.js";
import { parseGenesis } from "../src/genesis.js";
import { bodyFromJson, bodyToJson, isTxKind, parseBody } from "../src/kinds.js";
import {
  consent_duration_max_ms,
  consent_records_max,
  emergency_duration_max_ms,
  member_nodes_max,
  members_max,
  text_bytes_max,
} from "../src/limits.js";
import { TX_KINDS, type TxBodies, type TxKind } from "../src/types.js";
import { CATEGORIES, PURPOSES } from "../src/vocabulary.js";
import { did, hashOf } from "./rules-fixtures.js";

/** DIDs the old syntax check (`did:key:z6Mk` + 44 base58 characters) accepted and the full check refuses. */
const SMALL_ORDER_DID = didOfBytes([0xed, 0x01, 1, ...new Uint8Array(31)]);
const NON_CANONICAL_DID = didOfBytes([0xed, 0x01, 0xed, ...new Uint8Array(30).fill(0xff), 0x7f]);
const WRONG_CODEC_DID = didOfBytes([0xed, 0x00, ...new Uint8Array(32).fill(0x33)]);

function didOfBytes(bytes: number[]): string {
  const text = `${DID_KEY_PREFIX}${base58Encode(Uint8Array.from(bytes))}`;
  expect(text).toMatch(/^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]{44}$/);
  return text;
}

const A = did("a");
const B = did("b");
const C = did("c");

const GOOD: { [K in TxKind]: TxBodies[K] } = {
  "member.propose": { action: "add", member: A, nodes: [B, C], deadline: 1000 },
  "member.vote": { proposal: hashOf("p"), approve: true },
  "provider.register": { provider: A, licenseHash: hashOf("licence") },
  "provider.suspend": { provider: A, reason: "licence lapsed" },
  "patient.register": {},
  "patient.set-guardians": { guardians: [A, B, C], threshold: 2 },
  "patient.set-emergency-scope": { categories: ["allergies", "genetics"] },
  "key.rotate": { newKey: A },
  "key.recover": { patient: A, newKey: B },
  "record.anchor": {
    record: "obs:2024.01-7",
    patient: A,
    category: "labs",
    format: "Observation",
    contentHash: hashOf("x"),
  },
  "consent.grant": {
    grantee: A,
    categories: ["labs"],
    records: ["r1"],
    purposes: ["TREAT"],
    notBefore: 0,
    expires: 1000,
  },
  "consent.revoke": { consent: hashOf("grant") },
  "access.log": { patient: A, category: "labs", purpose: "TREAT", record: "r1" },
  "emergency.declare": { patient: A, reason: "unconscious", durationMs: 3_600_000 },
  "record.erase": { record: "r1" },
};

function codeOf(run: () => unknown): { code: ProtocolErrorCode; field: string | undefined } | "ok" {
  try {
    run();
    return "ok";
  } catch (error) {
    if (!isProtocolError(error)) throw error;
    return { code: error.code, field: error.field };
  }
}

function bad<K extends TxKind>(kind: K, patch: Record<string, unknown>): unknown {
  return { ...GOOD[kind], ...patch };
}

describe("parseBody", () => {
  it.each(TX_KINDS.map((kind) => [kind]))("accepts a good %s body and returns a clean copy", (kind) => {
    const body = GOOD[kind];
    const parsed = parseBody(kind, body);
    expect(parsed).toEqual(body);
    expect(parsed).not.toBe(body);
  });

  it("accepts an access.log without a record", () => {
    expect(parseBody("access.log", { patient: A, category: "labs", purpose: "TREAT" })).toEqual({
      patient: A,
      category: "labs",
      purpose: "TREAT",
    });
  });

  const cases: Array<[string, TxKind, unknown, ProtocolErrorCode, string]> = [
    ["unknown field", "member.vote", bad("member.vote", { extra: 1 }), "FIELD_UNKNOWN", "body.extra"],
    ["missing field", "member.vote", { approve: true }, "FIELD_MISSING", "body.proposal"],
    ["not an object", "patient.register", [], "FIELD_INVALID", "body"],
    ["bytes as a body", "patient.register", new Uint8Array(2), "FIELD_INVALID", "body"],
    [
      "short hash",
      "member.vote",
      bad("member.vote", { proposal: new Uint8Array(31) }),
      "FIELD_INVALID",
      "body.proposal",
    ],
    [
      "hash as hex",
      "member.vote",
      bad("member.vote", { proposal: "00".repeat(32) }),
      "FIELD_INVALID",
      "body.proposal",
    ],
    ["bad bool", "member.vote", bad("member.vote", { approve: 1 }), "FIELD_INVALID", "body.approve"],
    [
      "bad action",
      "member.propose",
      bad("member.propose", { action: "merge" }),
      "FIELD_INVALID",
      "body.action",
    ],
    [
      "removal with nodes",
      "member.propose",
      bad("member.propose", { action: "remove" }),
      "FIELD_INVALID",
      "body.nodes",
    ],
    [
      "add without nodes",
      "member.propose",
      bad("member.propose", { nodes: [] }),
      "FIELD_INVALID",
      "body.nodes",
    ],
    [
      "member as node",
      "member.propose",
      bad("member.propose", { nodes: [A] }),
      "FIELD_INVALID",
      "body.nodes",
    ],
    [
      "too many nodes",
      "member.propose",
      bad("member.propose", { nodes: Array.from({ length: member_nodes_max + 1 }, (_, i) => did(`n${i}`)) }),
      "FIELD_TOO_LARGE",
      "body.nodes",
    ],
    [
      "duplicate node",
      "member.propose",
      bad("member.propose", { nodes: [B, B] }),
      "FIELD_INVALID",
      "body.nodes[1]",
    ],
    [
      "negative time",
      "member.propose",
      bad("member.propose", { deadline: -1 }),
      "FIELD_INVALID",
      "body.deadline",
    ],
    [
      "fractional time",
      "member.propose",
      bad("member.propose", { deadline: 1.5 }),
      "FIELD_INVALID",
      "body.deadline",
    ],
    [
      "bigint time",
      "member.propose",
      bad("member.propose", { deadline: 10n }),
      "FIELD_INVALID",
      "body.deadline",
    ],
    [
      "bad did",
      "provider.register",
      bad("provider.register", { provider: "did:web:x" }),
      "DID_INVALID",
      "body.provider",
    ],
    [
      "did of another key type",
      "provider.register",
      bad("provider.register", { provider: `did:key:zQ3s${A.slice(12)}` }),
      "DID_INVALID",
      "body.provider",
    ],
    ["truncated did", "key.rotate", { newKey: A.slice(0, -1) }, "DID_INVALID", "body.newKey"],
    ["small-order newKey", "key.rotate", { newKey: SMALL_ORDER_DID }, "DID_INVALID", "body.newKey"],
    ["non-canonical newKey", "key.rotate", { newKey: NON_CANONICAL_DID }, "DID_INVALID", "body.newKey"],
    [
      "newKey with multicodec 0xed 0x00",
      "key.rotate",
      { newKey: WRONG_CODEC_DID },
      "DID_INVALID",
      "body.newKey",
    ],
    [
      "small-order recovery key",
      "key.recover",
      bad("key.recover", { newKey: SMALL_ORDER_DID }),
      "DID_INVALID",
      "body.newKey",
    ],
    [
      "small-order guardian",
      "patient.set-guardians",
      bad("patient.set-guardians", { guardians: [A, SMALL_ORDER_DID] }),
      "DID_INVALID",
      "body.guardians[1]",
    ],
    [
      "non-canonical node",
      "member.propose",
      bad("member.propose", { nodes: [B, NON_CANONICAL_DID] }),
      "DID_INVALID",
      "body.nodes[1]",
    ],
    [
      "empty reason",
      "provider.suspend",
      bad("provider.suspend", { reason: "" }),
      "FIELD_INVALID",
      "body.reason",
    ],
    [
      "reason too long (bytes)",
      "provider.suspend",
      bad("provider.suspend", { reason: "é".repeat(text_bytes_max / 2 + 1) }),
      "FIELD_TOO_LARGE",
      "body.reason",
    ],
    [
      "lone surrogate",
      "provider.suspend",
      bad("provider.suspend", { reason: "a\uD800b" }),
      "FIELD_INVALID",
      "body.reason",
    ],
    ["patient.register with a field", "patient.register", { x: 1 }, "FIELD_UNKNOWN", "body.x"],
    [
      "threshold above guardians",
      "patient.set-guardians",
      { guardians: [A], threshold: 2 },
      "FIELD_INVALID",
      "body.threshold",
    ],
    [
      "threshold zero",
      "patient.set-guardians",
      { guardians: [A], threshold: 0 },
      "FIELD_INVALID",
      "body.threshold",
    ],
    [
      "no guardians",
      "patient.set-guardians",
      { guardians: [], threshold: 1 },
      "FIELD_INVALID",
      "body.guardians",
    ],
    [
      "unknown category",
      "patient.set-emergency-scope",
      { categories: ["labs", "astrology"] },
      "FIELD_INVALID",
      "body.categories[1]",
    ],
    ["recover to the patient", "key.recover", { patient: A, newKey: A }, "FIELD_INVALID", "body.newKey"],
    [
      "bad record id",
      "record.anchor",
      bad("record.anchor", { record: "a b" }),
      "FIELD_INVALID",
      "body.record",
    ],
    ["empty record id", "record.erase", { record: "" }, "FIELD_INVALID", "body.record"],
    ["record id too long", "record.erase", { record: "r".repeat(129) }, "FIELD_TOO_LARGE", "body.record"],
    [
      "bad format",
      "record.anchor",
      bad("record.anchor", { format: "Obs\n" }),
      "FIELD_INVALID",
      "body.format",
    ],
    [
      "empty consent",
      "consent.grant",
      bad("consent.grant", { categories: [], records: [] }),
      "FIELD_INVALID",
      "body.categories",
    ],
    ["no purpose", "consent.grant", bad("consent.grant", { purposes: [] }), "FIELD_INVALID", "body.purposes"],
    [
      "bad purpose",
      "consent.grant",
      bad("consent.grant", { purposes: ["FUN"] }),
      "FIELD_INVALID",
      "body.purposes[0]",
    ],
    [
      "duplicate category",
      "consent.grant",
      bad("consent.grant", { categories: ["labs", "notes", "labs"] }),
      "FIELD_INVALID",
      "body.categories[2]",
    ],
    [
      "too many records",
      "consent.grant",
      bad("consent.grant", { records: Array.from({ length: consent_records_max + 1 }, (_, i) => `r${i}`) }),
      "FIELD_TOO_LARGE",
      "body.records",
    ],
    [
      "empty window",
      "consent.grant",
      bad("consent.grant", { notBefore: 1000 }),
      "FIELD_INVALID",
      "body.expires",
    ],
    [
      "window too long",
      "consent.grant",
      bad("consent.grant", { expires: consent_duration_max_ms + 1 }),
      "FIELD_INVALID",
      "body.expires",
    ],
    ["bad category", "access.log", bad("access.log", { category: "Labs" }), "FIELD_INVALID", "body.category"],
    [
      "zero duration",
      "emergency.declare",
      bad("emergency.declare", { durationMs: 0 }),
      "FIELD_INVALID",
      "body.durationMs",
    ],
    [
      "duration too long",
      "emergency.declare",
      bad("emergency.declare", { durationMs: emergency_duration_max_ms + 1 }),
      "FIELD_INVALID",
      "body.durationMs",
    ],
    [
      "null duration (optional means absent)",
      "emergency.declare",
      bad("emergency.declare", { durationMs: null }),
      "FIELD_INVALID",
      "body.durationMs",
    ],
  ];

  it("takes emergency.declare without durationMs: absent in the body, the CBOR map and the JSON view", () => {
    const body = { patient: A, reason: "unconscious" };
    expect(parseBody("emergency.declare", body)).toEqual(body);
    expect(
      Object.hasOwn(parseBody("emergency.declare", { ...body, durationMs: undefined }), "durationMs"),
    ).toBe(false);
    const json = bodyToJson("emergency.declare", body);
    expect(json).toEqual(body);
    expect(bodyFromJson("emergency.declare", JSON.parse(JSON.stringify(json)))).toEqual(body);
  });

  it.each(cases)("rejects %s", (_name, kind, body, code, field) => {
    expect(codeOf(() => parseBody(kind, body))).toEqual({ code, field });
  });

  it("accepts the limits themselves", () => {
    expect(
      parseBody("consent.grant", bad("consent.grant", { expires: consent_duration_max_ms })),
    ).toBeTruthy();
    expect(
      parseBody("provider.suspend", bad("provider.suspend", { reason: "x".repeat(text_bytes_max) })),
    ).toBeTruthy();
    expect(
      parseBody("emergency.declare", bad("emergency.declare", { durationMs: emergency_duration_max_ms })),
    ).toBeTruthy();
    expect(
      parseBody(
        "consent.grant",
        bad("consent.grant", { categories: [...CATEGORIES], purposes: [...PURPOSES] }),
      ),
    ).toBeTruthy();
  });

  it("rejects an unknown kind with KIND_UNKNOWN", () => {
    expect(codeOf(() => parseBody("consent.forge" as TxKind, {}))).toEqual({
      code: "KIND_UNKNOWN",
      field: "kind",
    });
    expect(isTxKind("consent.forge")).toBe(false);
    expect(TX_KINDS.every(isTxKind)).toBe(true);
  });

  it("uses a custom field prefix", () => {
    expect(codeOf(() => parseBody("record.erase", { record: 1 }, "tx.body"))).toEqual({
      code: "FIELD_INVALID",
      field: "tx.body.record",
    });
  });

  it("ignores inherited properties and rejects class instances", () => {
    const withProto = Object.create({ extra: 1 }) as Record<string, unknown>;
    withProto.record = "r1";
    expect(codeOf(() => parseBody("record.erase", withProto))).toEqual({
      code: "FIELD_INVALID",
      field: "body",
    });
    expect(codeOf(() => parseBody("record.erase", new Map()))).toEqual({
      code: "FIELD_INVALID",
      field: "body",
    });
  });
});

describe("JSON view", () => {
  it("writes byte strings as lowercase hex and reads them back", () => {
    const json = bodyToJson("member.vote", GOOD["member.vote"]) as Record<string, unknown>;
    expect(json.proposal).toBe(toHex(hashOf("p")));
    expect(bodyFromJson("member.vote", json)).toEqual(GOOD["member.vote"]);
  });

  it("rejects uppercase or short hex with the field path", () => {
    const proposal = toHex(hashOf("p")).toUpperCase();
    expect(codeOf(() => bodyFromJson("member.vote", { proposal, approve: true }))).toEqual({
      code: "FIELD_INVALID",
      field: "body.proposal",
    });
    expect(codeOf(() => bodyFromJson("member.vote", { proposal: "abcd", approve: true }))).toEqual({
      code: "FIELD_INVALID",
      field: "body.proposal",
    });
    expect(
      codeOf(() => bodyFromJson("member.vote", { proposal: "00".repeat(32), approve: true, x: 1 })),
    ).toEqual({
      code: "FIELD_UNKNOWN",
      field: "body.x",
    });
  });

  it.each(TX_KINDS.map((kind) => [kind]))("round-trips a good %s body", (kind) => {
    const json = JSON.parse(JSON.stringify(bodyToJson(kind, GOOD[kind]))) as unknown;
    expect(bodyFromJson(kind, json)).toEqual(GOOD[kind]);
  });

  it("round-trips random valid consent grants (property)", () => {
    const grant = fc
      .record({
        grantee: fc.constantFrom(A, B, C),
        categories: fc.uniqueArray(fc.constantFrom(...CATEGORIES), { maxLength: 13 }),
        records: fc.uniqueArray(fc.stringMatching(/^[A-Za-z0-9._:-]{1,20}$/), { maxLength: 5 }),
        purposes: fc.uniqueArray(fc.constantFrom(...PURPOSES), { minLength: 1, maxLength: 6 }),
        notBefore: fc.integer({ min: 0, max: 2 ** 45 }),
        window: fc.integer({ min: 1, max: consent_duration_max_ms }),
      })
      .filter((value) => value.categories.length + value.records.length > 0);
    fc.assert(
      fc.property(grant, ({ window, ...rest }) => {
        const body = { ...rest, expires: rest.notBefore + window };
        const json = JSON.parse(JSON.stringify(bodyToJson("consent.grant", body))) as unknown;
        expect(bodyFromJson("consent.grant", json)).toEqual(parseBody("consent.grant", body));
      }),
      { numRuns: 200 },
    );
  });

  it("round-trips random anchors and votes (property)", () => {
    const bytes = fc.uint8Array({ minLength: 32, maxLength: 32 });
    fc.assert(
      fc.property(bytes, fc.boolean(), fc.constantFrom(...CATEGORIES), (hash, approve, category) => {
        const vote = { proposal: hash, approve };
        expect(
          bodyFromJson("member.vote", JSON.parse(JSON.stringify(bodyToJson("member.vote", vote)))),
        ).toEqual(vote);
        const anchor = { ...GOOD["record.anchor"], category, contentHash: hash };
        const json = JSON.parse(JSON.stringify(bodyToJson("record.anchor", anchor))) as unknown;
        expect(bodyFromJson("record.anchor", json)).toEqual(anchor);
      }),
      { numRuns: 100 },
    );
  });
});

describe("random junk", () => {
  const junk = fc.anything({
    withBigInt: true,
    withTypedArray: true,
    withNullPrototype: true,
    withMap: true,
    withSet: true,
    withDate: true,
    withSparseArray: true,
  });

  it("raises only ProtocolErrors with a stable code (property)", () => {
    fc.assert(
      fc.property(fc.constantFrom(...TX_KINDS), junk, (kind, body) => {
        for (const run of [
          () => parseBody(kind, body),
          () => bodyFromJson(kind, body),
          () => bodyToJson(kind, body),
        ]) {
          const outcome = codeOf(run);
          if (outcome !== "ok") expect(outcome.code).toMatch(/^(FIELD_|KIND_|DID_INVALID$)/);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("raises only ProtocolErrors on mutated good bodies (property)", () => {
    fc.assert(
      fc.property(fc.constantFrom(...TX_KINDS), fc.string(), junk, (kind, name, value) => {
        const fields = Object.keys(GOOD[kind]);
        const key =
          fields.length > 0 && name.length % 2 === 0 ? (fields[name.length % fields.length] as string) : name;
        const body = { ...GOOD[kind], [key]: value };
        const outcome = codeOf(() => parseBody(kind, body));
        if (outcome !== "ok") expect(outcome.code).toMatch(/^(FIELD_|DID_INVALID$)/);
      }),
      { numRuns: 500 },
    );
  });
});

describe("parseGenesis", () => {
  const good = {
    chain: "medledger-test",
    time: 5,
    members: [
      { member: A, nodes: [B] },
      { member: C, nodes: [did("d")] },
    ],
  };

  it("accepts a good genesis", () => {
    expect(parseGenesis(good)).toEqual(good);
  });

  const cases: Array<[string, unknown, ProtocolErrorCode, string]> = [
    ["bad chain", { ...good, chain: "Med" }, "FIELD_INVALID", "genesis.chain"],
    ["long chain", { ...good, chain: "a".repeat(65) }, "FIELD_TOO_LARGE", "genesis.chain"],
    ["bad time", { ...good, time: -1 }, "FIELD_INVALID", "genesis.time"],
    ["no members", { ...good, members: [] }, "FIELD_INVALID", "genesis.members"],
    ["unknown field", { ...good, x: 1 }, "FIELD_UNKNOWN", "genesis.x"],
    ["missing members", { chain: "a", time: 1 }, "FIELD_MISSING", "genesis.members"],
    [
      "member without nodes",
      { ...good, members: [{ member: A, nodes: [] }] },
      "FIELD_INVALID",
      "genesis.members[0].nodes",
    ],
    [
      "bad node did",
      { ...good, members: [{ member: A, nodes: ["x"] }] },
      "DID_INVALID",
      "genesis.members[0].nodes[0]",
    ],
    [
      "small-order member",
      { ...good, members: [{ member: SMALL_ORDER_DID, nodes: [B] }] },
      "DID_INVALID",
      "genesis.members[0].member",
    ],
    [
      "node with multicodec 0xed 0x00",
      { ...good, members: [good.members[0], { member: C, nodes: [WRONG_CODEC_DID] }] },
      "DID_INVALID",
      "genesis.members[1].nodes[0]",
    ],
    [
      "non-canonical node",
      { ...good, members: [{ member: A, nodes: [B, NON_CANONICAL_DID] }] },
      "DID_INVALID",
      "genesis.members[0].nodes[1]",
    ],
    [
      "duplicate did",
      {
        ...good,
        members: [
          { member: A, nodes: [B] },
          { member: B, nodes: [C] },
        ],
      },
      "FIELD_INVALID",
      "genesis.members[1]",
    ],
    [
      "too many members",
      {
        ...good,
        members: Array.from({ length: members_max + 1 }, (_, i) => ({
          member: did(`g${i}`),
          nodes: [did(`gn${i}`)],
        })),
      },
      "FIELD_TOO_LARGE",
      "genesis.members",
    ],
  ];

  it.each(cases)("rejects %s", (_name, json, code, field) => {
    expect(codeOf(() => parseGenesis(json))).toEqual({ code, field });
  });

  it("raises only ProtocolErrors on junk (property)", () => {
    fc.assert(
      fc.property(fc.anything(), (json) => {
        const outcome = codeOf(() => parseGenesis(json));
        if (outcome !== "ok") expect(outcome.code).toMatch(/^(FIELD_|DID_INVALID$)/);
      }),
      { numRuns: 300 },
    );
  });
});
