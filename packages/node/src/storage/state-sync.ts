/**
 * State snapshots for catch-up: the state tables (and the applied tip) exported in bounded chunks of
 * canonical CBOR, and imported into an empty database in one transaction. The Raft snapshot carries
 * only the tip (height, block hash, app hash, applied index); the state moves in these chunks.
 *
 * A chunk: { v: 1, schema: the last migration number, n: its number from 0, last: true on the final
 * chunk, tables: [[table, columns, rows]] } where each row lists the table's columns in order (the
 * `seq` rowid included, so that insertion order survives). The importer checks every field, the order
 * and completeness of the chunks, the schema, the columns, SQLite's STRICT types and constraints, and
 * that the imported tip agrees with the imported chain state (and with `expect` when given).
 */
import { bytesEqual, type CborValue, decodeCanonical, encodeCanonical, type Hash } from "@medledger/protocol";
import Database from "better-sqlite3";
import { NodeError } from "../errors.js";
import {
  state_chunk_bytes_max,
  state_chunk_bytes_min,
  state_import_chunks_max,
  state_row_bytes_max,
} from "../limits.js";
import { MIGRATIONS } from "./migrations.js";
import { bytes } from "./sql.js";

/** Where the applied state stands: the last applied block and the Raft index applied with it. */
export interface Tip {
  /** Height of the last applied block (0 after genesis). */
  readonly height: number;
  /** Hash of the last applied block (GENESIS_PREV_HASH at height 0). */
  readonly blockHash: Hash;
  /** The app hash after the last applied block. */
  readonly appHash: Hash;
  /** The last Raft index applied. */
  readonly appliedIndex: number;
}

/** Options of an export. */
export interface StateExportOptions {
  /** Target size of a chunk, clamped to [state_chunk_bytes_min, state_chunk_bytes_max] (default 1 MiB). */
  readonly chunkBytes?: number;
}

/** A consistent, chunked export of the state; iterate it or call next() until null, then close(). */
export interface StateExport extends Iterable<Uint8Array> {
  /** The tip the exported state stands at (null when the database has no genesis). */
  readonly tip: Tip | null;
  /** The next chunk, or null after the last one. */
  next(): Uint8Array | null;
  /** Releases the export's connection. Idempotent. */
  close(): void;
}

/**
 * Every table an export carries, in import order (atoms before the audit rows that refer to them),
 * with its primary key (the cursor: an INTEGER, or seen's id).
 */
export const STATE_TABLES: ReadonlyArray<readonly [table: string, key: string]> = [
  ["applied", "id"],
  ["chain", "id"],
  ["atoms", "ref"],
  ["identities", "seq"],
  ["key_owners", "seq"],
  ["members", "seq"],
  ["proposals", "seq"],
  ["votes", "seq"],
  ["patients", "seq"],
  ["records", "seq"],
  ["consents", "seq"],
  ["emergencies", "seq"],
  ["audit", "seq"],
  ["seen", "id"],
];

const SCHEMA = MIGRATIONS.length;
const CHUNK_BYTES_DEFAULT = 1024 * 1024;
/** Rows read from SQLite per query while a chunk fills. */
const READ_BATCH_ROWS = 512;
/** CBOR framing of a chunk beyond its rows (map keys, table names, column lists). */
const CHUNK_OVERHEAD_BYTES = 4096;

type SqlValue = number | string | Uint8Array | null;

/** Opens a consistent export of `sqlite`'s state (internal: use ChainDb.exportState). */
export function openStateExport(parts: {
  sqlite: Database.Database;
  path: string;
  options: StateExportOptions;
  onClose: (exported: StateExport) => void;
}): StateExport {
  const inMemory = parts.path === ":memory:" || parts.path === "";
  const reader = inMemory
    ? new Database(parts.sqlite.serialize())
    : new Database(parts.path, { readonly: true, fileMustExist: true });
  try {
    if (!inMemory) reader.exec("BEGIN");
    const tip = readTip(reader);
    return new Exporter(reader, tip, chunkBytes(parts.options), parts.onClose);
  } catch (error) {
    reader.close();
    throw error;
  }
}

function chunkBytes(options: StateExportOptions): number {
  const wanted = options.chunkBytes ?? CHUNK_BYTES_DEFAULT;
  return Math.min(state_chunk_bytes_max, Math.max(state_chunk_bytes_min, Math.floor(wanted)));
}

function readTip(sqlite: Database.Database): Tip | null {
  const row = sqlite
    .prepare("SELECT raft_index, height, block_hash, app_hash FROM applied WHERE id = 0")
    .get() as { raft_index: number; height: number; block_hash: Buffer; app_hash: Buffer } | undefined;
  if (row === undefined) return null;
  return {
    height: row.height,
    blockHash: bytes(row.block_hash),
    appHash: bytes(row.app_hash),
    appliedIndex: row.raft_index,
  };
}

/** The column names of `table`, in schema order. */
function columnsOf(sqlite: Database.Database, table: string): string[] {
  const rows = sqlite.prepare(`SELECT name FROM pragma_table_info('${table}') ORDER BY cid`).all() as Array<{
    name: string;
  }>;
  return rows.map((row) => row.name);
}

class Exporter implements StateExport {
  private readonly reads: Database.Statement[];
  private readonly columns: string[][];
  private table = 0;
  /** The cursor: the last key read (an integer starts every table: it sorts before any blob key). */
  private after: number | Uint8Array = Number.MIN_SAFE_INTEGER;
  private chunkNumber = 0;
  private done = false;

  constructor(
    private readonly reader: Database.Database,
    readonly tip: Tip | null,
    private readonly chunkBytes: number,
    private readonly onClose: (exported: StateExport) => void,
  ) {
    this.columns = STATE_TABLES.map(([table]) => columnsOf(reader, table));
    this.reads = STATE_TABLES.map(([table, key], index) =>
      reader
        .prepare(
          `SELECT ${(this.columns[index] as string[]).join(", ")} FROM ${table} WHERE ${key} > ? ORDER BY ${key} LIMIT ?`,
        )
        .raw(true),
    );
  }

  next(): Uint8Array | null {
    if (this.done) return null;
    const tables: CborValue[] = [];
    let total = CHUNK_OVERHEAD_BYTES;
    while (this.table < STATE_TABLES.length && total < this.chunkBytes) {
      const rows = this.readRows(this.chunkBytes - total);
      if (rows.rows.length > 0) {
        const [name] = STATE_TABLES[this.table] as readonly [string, string];
        tables.push([name, this.columns[this.table] as string[], rows.rows]);
        total += rows.bytes;
      }
      if (rows.exhausted) {
        this.table += 1;
        this.after = Number.MIN_SAFE_INTEGER;
      }
    }
    const last = this.table >= STATE_TABLES.length;
    if (last) this.done = true;
    const chunk = { v: 1, schema: SCHEMA, n: this.chunkNumber, last, tables };
    this.chunkNumber += 1;
    return encodeCanonical(chunk, { bytesMax: state_chunk_bytes_max, field: "state chunk" });
  }

  /** Rows of the current table after the cursor, within `budget` bytes (at least one row). */
  private readRows(budget: number): { rows: CborValue[]; bytes: number; exhausted: boolean } {
    const out: CborValue[] = [];
    let total = 0;
    const key = this.columns[this.table]?.indexOf(STATE_TABLES[this.table]?.[1] ?? "") ?? -1;
    const read = this.reads[this.table] as Database.Statement;
    const batch = read.all(this.after, READ_BATCH_ROWS) as SqlValue[][];
    for (const raw of batch) {
      const row = raw.map((value) => (value instanceof Uint8Array ? bytes(value) : value));
      const size = rowBytes(row);
      if (size > state_row_bytes_max) {
        throw new NodeError("NODE_INVARIANT", `invariant broken: a state row is ${size} bytes`);
      }
      if (out.length > 0 && total + size > budget) return { rows: out, bytes: total, exhausted: false };
      out.push(row);
      total += size;
      this.after = row[key] as number | Uint8Array;
    }
    return { rows: out, bytes: total, exhausted: batch.length < READ_BATCH_ROWS };
  }

  close(): void {
    if (this.reader.open) this.reader.close();
    this.done = true;
    this.onClose(this);
  }

  *[Symbol.iterator](): Iterator<Uint8Array> {
    for (let chunk = this.next(); chunk !== null; chunk = this.next()) yield chunk;
  }
}

/** An upper bound of a row's CBOR size. */
function rowBytes(row: SqlValue[]): number {
  let total = 9;
  for (const value of row) {
    if (value === null || typeof value === "number") total += 9;
    else if (typeof value === "string") total += 9 + 3 * value.length;
    else total += 9 + value.byteLength;
  }
  return total;
}

/** How an import treats what the database holds. */
export interface StateImportOptions {
  /**
   * Replace the state tables' rows (a node installing a newer snapshot over its own older state): blocks
   * and transactions it holds stay as history. Without it the database must be empty (NOT_EMPTY).
   */
  readonly replace?: boolean;
}

/** Imports `chunks` into the state of `sqlite` in one transaction (internal: use ChainDb.importState). */
export function importState(
  sqlite: Database.Database,
  chunks: Iterable<Uint8Array>,
  expect?: Tip,
  options: StateImportOptions = {},
): Tip {
  const columns = new Map(STATE_TABLES.map(([table]) => [table, columnsOf(sqlite, table)]));
  const inserts = new Map(
    STATE_TABLES.map(([table]) => {
      const names = columns.get(table) as string[];
      const sql = `INSERT INTO ${table} (${names.join(", ")}) VALUES (${names.map(() => "?").join(", ")})`;
      return [table, sqlite.prepare(sql)];
    }),
  );
  return sqlite.transaction(() => {
    if (options.replace === true) clearState(sqlite);
    else checkEmpty(sqlite);
    let expected = 0;
    let finished = false;
    for (const bytesIn of chunks) {
      if (finished) throw chunkError("a chunk follows the last one");
      if (expected >= state_import_chunks_max) throw chunkError("too many chunks");
      const chunk = parseChunk(bytesIn, expected);
      for (const [table, names, rows] of chunk.tables) {
        const expectedColumns = columns.get(table);
        if (expectedColumns === undefined) throw chunkError(`unknown table ${table}`);
        if (names.join(",") !== expectedColumns.join(",")) throw chunkError(`columns of ${table} differ`);
        const insert = inserts.get(table) as Database.Statement;
        for (const row of rows) insertRow(insert, table, row, names.length);
      }
      finished = chunk.last;
      expected += 1;
    }
    if (!finished) throw chunkError("the last chunk is missing");
    return checkImported(sqlite, expect);
  })();
}

function clearState(sqlite: Database.Database): void {
  for (const [table] of [...STATE_TABLES].reverse()) sqlite.prepare(`DELETE FROM ${table}`).run();
}

function checkEmpty(sqlite: Database.Database): void {
  for (const table of [...STATE_TABLES.map(([name]) => name), "blocks", "txs"]) {
    if (sqlite.prepare(`SELECT 1 FROM ${table} LIMIT 1`).get() !== undefined) {
      throw new NodeError("NOT_EMPTY", `state import needs an empty database; ${table} holds rows`);
    }
  }
}

function insertRow(insert: Database.Statement, table: string, row: unknown, width: number): void {
  if (!Array.isArray(row) || row.length !== width) throw chunkError(`a row of ${table} has the wrong width`);
  for (const value of row) {
    const ok =
      value === null ||
      typeof value === "string" ||
      value instanceof Uint8Array ||
      Number.isSafeInteger(value);
    if (!ok) throw chunkError(`a row of ${table} holds a value of the wrong type`);
  }
  try {
    insert.run(...(row as SqlValue[]));
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("SQLITE_CONSTRAINT")) {
      throw chunkError(`a row of ${table} breaks a constraint (${code})`);
    }
    throw error;
  }
}

interface Chunk {
  last: boolean;
  tables: Array<[string, string[], unknown[]]>;
}

function parseChunk(input: Uint8Array, expected: number): Chunk {
  let value: CborValue;
  try {
    value = decodeCanonical(input, { bytesMax: state_chunk_bytes_max, field: "state chunk" });
  } catch (error) {
    throw new NodeError("STATE_CHUNK_INVALID", "a state chunk is not canonical CBOR", { cause: error });
  }
  const record = value as Record<string, unknown> | null;
  if (
    record === null ||
    typeof record !== "object" ||
    Array.isArray(record) ||
    record instanceof Uint8Array
  ) {
    throw chunkError("a state chunk is not a map");
  }
  const keys = Object.keys(record).sort().join(",");
  if (keys !== "last,n,schema,tables,v") throw chunkError(`a state chunk has fields ${keys}`);
  if (record.v !== 1) throw chunkError("a state chunk has another version");
  if (record.schema !== SCHEMA)
    throw chunkError(`a state chunk has schema ${String(record.schema)}, not ${SCHEMA}`);
  if (record.n !== expected) throw chunkError(`chunk ${String(record.n)} arrived where ${expected} was due`);
  if (typeof record.last !== "boolean" || !Array.isArray(record.tables)) throw chunkError("malformed chunk");
  const tables = record.tables.map((entry): [string, string[], unknown[]] => {
    if (!Array.isArray(entry) || entry.length !== 3) throw chunkError("malformed table entry");
    const [name, names, rows] = entry as [unknown, unknown, unknown];
    const namesOk = Array.isArray(names) && names.every((column) => typeof column === "string");
    if (typeof name !== "string" || !namesOk || !Array.isArray(rows))
      throw chunkError("malformed table entry");
    return [name, names as string[], rows];
  });
  return { last: record.last, tables };
}

function checkImported(sqlite: Database.Database, expect: Tip | undefined): Tip {
  const tip = readTip(sqlite);
  const chain = sqlite.prepare("SELECT height, app_hash FROM chain WHERE id = 0").get() as
    | { height: number; app_hash: Buffer }
    | undefined;
  if (tip === null || chain === undefined)
    throw chunkError("the imported state has no tip or no chain state");
  if (chain.height !== tip.height || !bytesEqual(bytes(chain.app_hash), tip.appHash)) {
    throw chunkError("the imported tip does not match the imported chain state");
  }
  if (expect !== undefined) {
    const same =
      expect.height === tip.height &&
      expect.appliedIndex === tip.appliedIndex &&
      bytesEqual(expect.blockHash, tip.blockHash) &&
      bytesEqual(expect.appHash, tip.appHash);
    if (!same) throw chunkError("the imported tip is not the expected one");
  }
  return tip;
}

function chunkError(message: string): NodeError {
  return new NodeError("STATE_CHUNK_INVALID", `state import: ${message}`);
}
