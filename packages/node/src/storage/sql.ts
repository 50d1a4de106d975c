/**
 * Small helpers shared by the storage modules: SQLite errors mapped to NodeErrors with stable codes,
 * and conversions between SQLite values and the protocol's (BLOBs to plain Uint8Arrays, JSON lists).
 */
import { NodeError } from "../errors.js";

/** The SQLite result codes that name an expected operating condition, and the NodeError for each. */
const SQLITE_CODES: ReadonlyArray<readonly [prefix: string, code: NodeError["code"]]> = [
  ["SQLITE_FULL", "STORAGE_FULL"],
  ["SQLITE_IOERR_NOSPC", "STORAGE_FULL"],
  ["SQLITE_CORRUPT", "STORAGE_CORRUPT"],
  ["SQLITE_NOTADB", "STORAGE_CORRUPT"],
  ["SQLITE_READONLY", "STORAGE_READONLY"],
  ["SQLITE_IOERR", "STORAGE_IO"],
  ["SQLITE_CANTOPEN", "STORAGE_IO"],
];

/** The NodeError for a SQLite error with an expected cause (disk full, corruption...), else `error`. */
export function storageError(error: unknown): unknown {
  if (error instanceof NodeError) return error;
  if (error instanceof TypeError && /database connection is not open/.test(error.message)) {
    return new NodeError("STORAGE_CLOSED", "the chain database is closed", { cause: error });
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return error;
  for (const [prefix, nodeCode] of SQLITE_CODES) {
    if (code.startsWith(prefix)) {
      const message = `${(error as Error).message} (${code})`;
      return new NodeError(nodeCode, `chain database: ${message}`, { cause: error });
    }
  }
  return error;
}

/** Runs `fn`, turning SQLite errors with an expected cause into NodeErrors. */
export function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw storageError(error);
  }
}

/** A BLOB read from SQLite (a Buffer) as a plain Uint8Array over the same bytes. */
export function bytes(value: unknown): Uint8Array {
  const buffer = value as Uint8Array;
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** A nullable BLOB read from SQLite as a plain Uint8Array, or null. */
export function bytesOrNull(value: unknown): Uint8Array | null {
  return value === null || value === undefined ? null : bytes(value);
}

/** A list of strings as JSON text. */
export function list(values: readonly string[]): string {
  return JSON.stringify(values);
}

/** JSON text written by `list` as a list of strings. */
export function parseList<T extends string = string>(text: unknown): T[] {
  return JSON.parse(text as string) as T[];
}
