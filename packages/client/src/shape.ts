/**
 * A small check of answers against the shapes the API documents: every named field present with its
 * JSON type (`?` after the type: may be absent; `|null`: may be null). It stops a changed or foreign
 * server early with CLIENT_RESPONSE_INVALID instead of an undefined deep inside the caller's code.
 */
import { clientError } from "./errors.js";
import { isRecord } from "./http.js";

type JsonType = "string" | "number" | "boolean" | "object" | "array";
/** e.g. "string", "number?", "string|null". */
export type FieldType = JsonType | `${JsonType}?` | `${JsonType}|null` | `${JsonType}|null?`;
export type Shape = Readonly<Record<string, FieldType>>;

/** `value` as T when it is an object with every field of `shape`; CLIENT_RESPONSE_INVALID otherwise. */
export function checkShape<T>(value: unknown, shape: Shape, what: string): T {
  if (!isRecord(value)) throw invalid(what, "is not a JSON object");
  for (const [name, spec] of Object.entries(shape)) {
    const optional = spec.endsWith("?");
    const [type, nullable] = spec.replace("?", "").split("|") as [JsonType, string | undefined];
    const field = value[name];
    if (field === undefined) {
      if (optional) continue;
      throw invalid(what, `lacks ${name}`);
    }
    if (field === null && nullable === "null") continue;
    if (!hasType(field, type)) throw invalid(what, `has ${name} that is not a ${type}`);
  }
  return value as T;
}

/** Checks each item of the array `items` against `shape`. */
export function checkItems<T>(items: unknown, shape: Shape, what: string): T[] {
  if (!Array.isArray(items)) throw invalid(what, "is not an array");
  return items.map((item, index) => checkShape<T>(item, shape, `${what}[${index}]`));
}

function hasType(value: unknown, type: JsonType): boolean {
  switch (type) {
    case "array":
      return Array.isArray(value);
    case "object":
      return isRecord(value);
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    default:
      return typeof value === type;
  }
}

function invalid(what: string, problem: string) {
  return clientError("CLIENT_RESPONSE_INVALID", `the answer of ${what} ${problem}`);
}

export const TX_STATUS: Shape = {
  id: "string",
  status: "string",
  height: "number?",
  txIndex: "number?",
  result: "object?",
};
export const BATCH: Shape = { items: "array" };
export const BATCH_ITEM: Shape = {
  id: "string?",
  status: "string",
  height: "number?",
  txIndex: "number?",
  result: "object?",
  error: "object?",
};
export const TX_DETAIL: Shape = {
  ...TX_STATUS,
  tx: "object?",
  encoded: "string?",
  proof: "object?",
  blockHash: "string?",
  header: "object?",
};
export const READY: Shape = {
  ready: "boolean",
  leader: "string|null",
  commitIndex: "number",
  appliedIndex: "number",
  lagEntriesMax: "number",
};
export const STATUS: Shape = {
  node: "string",
  chain: "string",
  role: "string",
  term: "number",
  leader: "string|null",
  height: "number",
  commitIndex: "number",
  appliedIndex: "number",
  blockHash: "string",
  appHash: "string",
  mempoolSize: "number",
  member: "string|null",
  peers: "object",
  members: "array",
  voters: "array",
  learners: "array",
  halted: "boolean",
  backfilling: "boolean",
};
export const BLOCK: Shape = {
  height: "number",
  hash: "string",
  header: "object",
  sig: "string",
  txs: "array",
  results: "array",
  ids: "array",
};
export const BLOCK_SUMMARY: Shape = {
  height: "number",
  hash: "string",
  time: "number",
  txCount: "number",
  header: "object",
};
export const CONSENT: Shape = {
  id: "string",
  patient: "string",
  grantee: "string",
  categories: "array",
  records: "array",
  purposes: "array",
  notBefore: "number",
  expires: "number",
  revokedAt: "number|null",
  height: "number",
  txIndex: "number",
};
export const AUDIT: Shape = {
  tx: "string",
  height: "number",
  txIndex: "number",
  time: "number",
  provider: "string",
  patient: "string",
  category: "string",
  record: "string|null",
  purpose: "string",
  decision: "string",
  code: "string",
  cites: "string|null",
  flagged: "boolean",
};
export const ACCESS_CHECK: Shape = {
  decision: "string",
  code: "string",
  cites: "string|null",
  flagged: "boolean",
  time: "number",
};
export const STORED: Shape = {
  id: "string",
  status: "string",
  record: "string",
  height: "number?",
  txIndex: "number?",
  result: "object?",
};
export const DISCLOSED: Shape = {
  record: "string",
  patient: "string",
  category: "string",
  format: "string",
  contentHash: "string",
  content: "string",
  decision: "string",
  code: "string",
  cites: "string|null",
  accessLog: "string",
  height: "number",
};
export const BLOCK_EVENT: Shape = { height: "number", hash: "string", time: "number", txCount: "number" };
export const BREAK_GLASS_EVENT: Shape = {
  patient: "string",
  provider: "string",
  emergency: "string",
  reason: "string",
  until: "number",
  height: "number",
};
export const ACCESS_EVENT: Shape = {
  patient: "string",
  provider: "string",
  tx: "string",
  category: "string",
  purpose: "string",
  record: "string|null",
  decision: "string",
  code: "string",
  cites: "string|null",
  flagged: "boolean",
  height: "number",
};
