/**
 * The schema and stateless validation of every transaction body. One declarative field table per
 * kind drives the three conversions (decoded CBOR → body, JSON → body, body → JSON); the few rules
 * that relate fields to each other sit next to the table. Stateful rules live in rules.ts.
 */
import { fromHex, toHex, utf8Length } from "./bytes.js";
import { parseDid } from "./did.js";
import { ProtocolError } from "./errors.js";
import {
  consent_categories_max,
  consent_duration_max_ms,
  consent_purposes_max,
  consent_records_max,
  emergency_duration_max_ms,
  guardians_max,
  hash_bytes,
  member_nodes_max,
  record_format_bytes_max,
  record_id_bytes_max,
  text_bytes_max,
} from "./limits.js";
import { TX_KINDS, type TxBodies, type TxKind } from "./types.js";
import { isCategory, isPurpose } from "./vocabulary.js";

const RECORD_ID_PATTERN = /^[A-Za-z0-9._:-]+$/;
/** A record format is printable ASCII (a FHIR resource type, a media type). */
const RECORD_FORMAT_PATTERN = /^[\x20-\x7e]+$/;
const LONE_SURROGATE_PATTERN = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** A single value's type. */
type ScalarSpec =
  | { type: "did" }
  | { type: "hash" }
  | { type: "text"; bytesMax: number }
  | { type: "record-id" }
  | { type: "record-format" }
  | { type: "category" }
  | { type: "purpose" }
  | { type: "time" }
  | { type: "uint"; min: number; max: number }
  | { type: "bool" }
  | { type: "enum"; values: readonly string[] };

/** A field: a scalar or a list of distinct scalars, optionally absent. */
type FieldSpec = (ScalarSpec | { type: "list"; item: ScalarSpec; min: number; max: number }) & {
  optional?: true;
};

/** The table of one kind: every field of its body type, plus the rules relating fields. */
interface KindSpec<B> {
  fields: { [F in keyof B]-?: FieldSpec };
  check?: (body: B, field: string) => void;
}

const did: FieldSpec = { type: "did" };
const hash: FieldSpec = { type: "hash" };
const time: FieldSpec = { type: "time" };
const reason: FieldSpec = { type: "text", bytesMax: text_bytes_max };

const KIND_SPECS: { readonly [K in TxKind]: KindSpec<TxBodies[K]> } = {
  "member.propose": {
    fields: {
      action: { type: "enum", values: ["add", "remove", "update"] },
      member: did,
      nodes: { type: "list", item: { type: "did" }, min: 0, max: member_nodes_max },
      deadline: time,
    },
    check(body, field) {
      if (body.action === "remove") {
        invalidUnless(body.nodes.length === 0, "a removal names no nodes", `${field}.nodes`);
      } else {
        invalidUnless(body.nodes.length >= 1, "a member needs at least one node", `${field}.nodes`);
      }
      invalidUnless(
        !body.nodes.includes(body.member),
        "a member's own key is not a node key",
        `${field}.nodes`,
      );
    },
  },
  "member.vote": { fields: { proposal: hash, approve: { type: "bool" } } },
  "provider.register": { fields: { provider: did, licenseHash: hash } },
  "provider.suspend": { fields: { provider: did, reason } },
  "patient.register": { fields: {} },
  "patient.set-guardians": {
    fields: {
      guardians: { type: "list", item: { type: "did" }, min: 1, max: guardians_max },
      threshold: { type: "uint", min: 1, max: guardians_max },
    },
    check(body, field) {
      invalidUnless(
        body.threshold <= body.guardians.length,
        "threshold must be at most the number of guardians",
        `${field}.threshold`,
      );
    },
  },
  "patient.set-emergency-scope": {
    fields: { categories: { type: "list", item: { type: "category" }, min: 0, max: consent_categories_max } },
  },
  "key.rotate": { fields: { newKey: did } },
  "key.recover": {
    fields: { patient: did, newKey: did },
    check(body, field) {
      invalidUnless(
        body.newKey !== body.patient,
        "the new key must differ from the patient",
        `${field}.newKey`,
      );
    },
  },
  "record.anchor": {
    fields: {
      record: { type: "record-id" },
      patient: did,
      category: { type: "category" },
      format: { type: "record-format" },
      contentHash: hash,
    },
  },
  "consent.grant": {
    fields: {
      grantee: did,
      categories: { type: "list", item: { type: "category" }, min: 0, max: consent_categories_max },
      records: { type: "list", item: { type: "record-id" }, min: 0, max: consent_records_max },
      purposes: { type: "list", item: { type: "purpose" }, min: 1, max: consent_purposes_max },
      notBefore: time,
      expires: time,
    },
    check(body, field) {
      invalidUnless(
        body.categories.length + body.records.length >= 1,
        "a consent names at least one category or record",
        `${field}.categories`,
      );
      invalidUnless(body.notBefore < body.expires, "notBefore must be before expires", `${field}.expires`);
      invalidUnless(
        body.expires - body.notBefore <= consent_duration_max_ms,
        "the consent window is too long",
        `${field}.expires`,
      );
    },
  },
  "consent.revoke": { fields: { consent: hash } },
  "access.log": {
    fields: {
      patient: did,
      category: { type: "category" },
      purpose: { type: "purpose" },
      record: { type: "record-id", optional: true },
    },
  },
  "emergency.declare": {
    fields: {
      patient: did,
      reason,
      durationMs: { type: "uint", min: 1, max: emergency_duration_max_ms, optional: true },
    },
  },
  "record.erase": { fields: { record: { type: "record-id" } } },
};

/** True when `value` is a transaction kind this protocol defines. */
export function isTxKind(value: unknown): value is TxKind {
  return typeof value === "string" && (TX_KINDS as readonly string[]).includes(value);
}

/** Validates a decoded CBOR body of `kind` (byte strings as Uint8Array) and returns a clean copy. */
export function parseBody<K extends TxKind>(kind: K, body: unknown, field = "body"): TxBodies[K] {
  const spec = kindSpec(kind);
  const fields = spec.fields as Readonly<Record<string, FieldSpec>>;
  const source = plainObject(body, field);
  for (const name of Object.keys(source)) {
    if (!Object.hasOwn(fields, name)) {
      throw new ProtocolError("FIELD_UNKNOWN", `unknown field ${name}`, { field: `${field}.${name}` });
    }
  }
  const out: Record<string, unknown> = {};
  for (const [name, fieldSpec] of Object.entries(fields)) {
    const value = Object.hasOwn(source, name) ? source[name] : undefined;
    if (value === undefined) {
      if (fieldSpec.optional === true) continue;
      throw new ProtocolError("FIELD_MISSING", `missing field ${name}`, { field: `${field}.${name}` });
    }
    out[name] = parseField(fieldSpec, value, `${field}.${name}`);
  }
  spec.check?.(out, field);
  return out as unknown as TxBodies[K];
}

/** Validates the JSON view of a body of `kind` (byte strings as lowercase hex) and returns the body. */
export function bodyFromJson<K extends TxKind>(kind: K, json: unknown, field = "body"): TxBodies[K] {
  const fields = kindSpec(kind).fields as Readonly<Record<string, FieldSpec>>;
  const source = plainObject(json, field);
  const converted: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(source)) {
    const fieldSpec = Object.hasOwn(fields, name) ? fields[name] : undefined;
    converted[name] =
      fieldSpec === undefined ? value : mapBytes(fieldSpec, value, `${field}.${name}`, hexToBytes);
  }
  return parseBody(kind, converted, field);
}

/** The JSON view of a body of `kind` (validated first): byte strings become lowercase hex. */
export function bodyToJson(kind: TxKind, body: unknown): unknown {
  const parsed = parseBody(kind, body) as unknown as Record<string, unknown>;
  const fields = kindSpec(kind).fields as Readonly<Record<string, FieldSpec>>;
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(parsed)) {
    const fieldSpec = fields[name];
    out[name] = fieldSpec === undefined ? value : mapBytes(fieldSpec, value, name, bytesToHex);
  }
  return out;
}

function kindSpec(kind: unknown): KindSpec<Record<string, unknown>> {
  if (!isTxKind(kind)) throw new ProtocolError("KIND_UNKNOWN", "unknown transaction kind", { field: "kind" });
  return KIND_SPECS[kind] as unknown as KindSpec<Record<string, unknown>>;
}

function parseField(spec: FieldSpec, value: unknown, field: string): unknown {
  if (spec.type !== "list") return parseScalar(spec, value, field);
  if (!Array.isArray(value)) throw new ProtocolError("FIELD_INVALID", `${field} must be a list`, { field });
  if (value.length > spec.max) {
    throw new ProtocolError("FIELD_TOO_LARGE", `${field} has more than ${spec.max} items`, { field });
  }
  invalidUnless(value.length >= spec.min, `${field} needs at least ${spec.min} items`, field);
  const items: unknown[] = [];
  const seen = new Set<string>();
  value.forEach((item, index) => {
    const parsed = parseScalar(spec.item, item, `${field}[${index}]`);
    const identity = parsed instanceof Uint8Array ? toHex(parsed) : String(parsed);
    invalidUnless(!seen.has(identity), `${field} lists a value twice`, `${field}[${index}]`);
    seen.add(identity);
    items.push(parsed);
  });
  return items;
}

function parseScalar(spec: ScalarSpec, value: unknown, field: string): unknown {
  switch (spec.type) {
    case "did":
      return parseDid(value, field);
    case "hash":
      invalidUnless(
        value instanceof Uint8Array && value.length === hash_bytes,
        `${field} must be 32 bytes`,
        field,
      );
      return Uint8Array.from(value);
    case "text":
      return parseText(value, spec.bytesMax, field);
    case "record-id":
      invalidUnless(
        typeof value === "string" && RECORD_ID_PATTERN.test(value),
        `${field} is no record id`,
        field,
      );
      return limitBytes(value, record_id_bytes_max, field);
    case "record-format":
      invalidUnless(
        typeof value === "string" && RECORD_FORMAT_PATTERN.test(value),
        `${field} is no format`,
        field,
      );
      return limitBytes(value, record_format_bytes_max, field);
    case "category":
      invalidUnless(isCategory(value), `${field} is not a known category`, field);
      return value;
    case "purpose":
      invalidUnless(isPurpose(value), `${field} is not a known purpose`, field);
      return value;
    case "time":
      invalidUnless(isUint(value), `${field} must be an unsigned integer (ms)`, field);
      return value;
    case "uint":
      invalidUnless(
        isUint(value) && value >= spec.min && value <= spec.max,
        `${field} is out of range`,
        field,
      );
      return value;
    case "bool":
      invalidUnless(typeof value === "boolean", `${field} must be a boolean`, field);
      return value;
    case "enum":
      invalidUnless(
        typeof value === "string" && spec.values.includes(value),
        `${field} is not allowed`,
        field,
      );
      return value;
  }
}

function parseText(value: unknown, bytesMax: number, field: string): string {
  invalidUnless(typeof value === "string" && value.length >= 1, `${field} must be a non-empty string`, field);
  invalidUnless(!LONE_SURROGATE_PATTERN.test(value), `${field} is not well-formed Unicode`, field);
  return limitBytes(value, bytesMax, field);
}

function limitBytes(value: string, bytesMax: number, field: string): string {
  if (utf8Length(value) > bytesMax) {
    throw new ProtocolError("FIELD_TOO_LARGE", `${field} is longer than ${bytesMax} bytes`, { field });
  }
  return value;
}

/** Applies `convert` to every byte-string value of a field (lists item by item); other values pass. */
function mapBytes(
  spec: FieldSpec,
  value: unknown,
  field: string,
  convert: (value: unknown, field: string) => unknown,
): unknown {
  if (spec.type === "hash") return convert(value, field);
  if (spec.type === "list" && spec.item.type === "hash" && Array.isArray(value)) {
    return value.map((item, index) => convert(item, `${field}[${index}]`));
  }
  return value;
}

function hexToBytes(value: unknown, field: string): unknown {
  return fromHex(value, { field, length: hash_bytes });
}

function bytesToHex(value: unknown): unknown {
  return value instanceof Uint8Array ? toHex(value) : value;
}

function plainObject(value: unknown, field: string): Record<string, unknown> {
  const isObject =
    typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
  if (!isObject) throw new ProtocolError("FIELD_INVALID", `${field} must be an object`, { field });
  const prototype = Object.getPrototypeOf(value) as unknown;
  invalidUnless(
    prototype === Object.prototype || prototype === null,
    `${field} must be a plain object`,
    field,
  );
  return value as Record<string, unknown>;
}

function isUint(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function invalidUnless(condition: boolean, message: string, field: string): asserts condition {
  if (!condition) throw new ProtocolError("FIELD_INVALID", message, { field });
}
