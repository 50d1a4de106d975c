/**
 * The chain database: one SQLite file per node holding the Raft log and hard state, the blocks and
 * transactions, and the state tables. Opened in WAL mode with synchronous=FULL (a committed
 * transaction is on disk before the call returns: Raft writes are durable before acknowledgement),
 * foreign keys on and a busy timeout. The schema moves by numbered migrations (migrations.ts).
 */
import { createHash } from "node:crypto";
import Database from "better-sqlite3";
import { NodeError } from "../errors.js";
import { sqlite_busy_timeout_ms, sqlite_wal_bytes_max } from "../limits.js";
import { type Logger, silentLogger } from "../logger.js";
import { BlockStore } from "./blocks.js";
import { MIGRATIONS, type Migration } from "./migrations.js";
import { SqliteRaftStorage, type SqliteRaftStorageOptions } from "./raft-storage.js";
import { guard } from "./sql.js";
import { SqliteStateStore } from "./state-store.js";
import {
  importState,
  openStateExport,
  type StateExport,
  type StateExportOptions,
  type StateImportOptions,
  type Tip,
} from "./state-sync.js";

/** "MLDG": the SQLite application_id of a medledger chain database. */
export const CHAIN_DB_APPLICATION_ID = 0x4d4c4447;

/** Options of openChainDb. */
export interface ChainDbOptions {
  /** The database file, or ":memory:" (tests). */
  readonly path: string;
  readonly logger?: Logger;
  /** Open an existing, fully migrated database for reading only. */
  readonly readonly?: boolean;
}

/** The result of an integrity check: ok, or the problems SQLite reported. */
export interface IntegrityReport {
  readonly ok: boolean;
  readonly problems: string[];
}

/** Opens (creating and migrating if needed) the chain database at `options.path`. */
export function openChainDb(options: ChainDbOptions): ChainDb {
  const logger = (options.logger ?? silentLogger).child({ module: "storage" });
  const readonly = options.readonly === true;
  const sqlite = guard(
    () =>
      new Database(options.path, {
        readonly,
        fileMustExist: readonly,
        timeout: sqlite_busy_timeout_ms,
      }),
  );
  try {
    guard(() => configure(sqlite, readonly));
    const applied = migrate(sqlite, { readonly, logger });
    return new ChainDb({ sqlite, path: options.path, readonly, logger, migrations: applied });
  } catch (error) {
    sqlite.close();
    throw error;
  }
}

/** One open chain database: its state store, block store, Raft storage, export, import, backup. */
export class ChainDb {
  /** The better-sqlite3 connection (for this package's storage modules; do not write to it directly). */
  readonly sqlite: Database.Database;
  readonly path: string;
  readonly readonly: boolean;
  /** The protocol's StateStore over the state tables. */
  readonly state: SqliteStateStore;
  /** Blocks, transactions, the applied tip, and the exactly-once apply of committed blocks. */
  readonly blocks: BlockStore;
  private readonly logger: Logger;
  private readonly migrationNumbers: number[];
  private raft: SqliteRaftStorage | null = null;
  private readonly exports = new Set<StateExport>();

  /** Use openChainDb(). */
  constructor(parts: {
    sqlite: Database.Database;
    path: string;
    readonly: boolean;
    logger: Logger;
    migrations: number[];
  }) {
    this.sqlite = parts.sqlite;
    this.path = parts.path;
    this.readonly = parts.readonly;
    this.logger = parts.logger;
    this.migrationNumbers = parts.migrations;
    this.state = guard(() => new SqliteStateStore(parts.sqlite));
    this.blocks = guard(() => new BlockStore(parts.sqlite, this.state));
  }

  /** The numbers of the migrations applied to this database, in order. */
  migrations(): number[] {
    return [...this.migrationNumbers];
  }

  /** The Raft storage of this database (one per database); `bootstrap` is stored only on first use. */
  raftStorage(options: SqliteRaftStorageOptions): SqliteRaftStorage {
    if (this.raft === null) this.raft = new SqliteRaftStorage(this.sqlite, options, this.blocks);
    return this.raft;
  }

  /** Runs PRAGMA integrity_check and foreign_key_check. */
  integrityCheck(): IntegrityReport {
    return guard(() => {
      const rows = this.sqlite.pragma("integrity_check") as Array<{ integrity_check: string }>;
      const problems = rows.map((row) => row.integrity_check).filter((line) => line !== "ok");
      const foreign = this.sqlite.pragma("foreign_key_check") as Array<Record<string, unknown>>;
      for (const row of foreign) problems.push(`foreign key: ${JSON.stringify(row)}`);
      return { ok: problems.length === 0, problems };
    });
  }

  /** Copies the database to `toPath` with SQLite's online backup (writers may continue meanwhile). */
  async backup(toPath: string): Promise<void> {
    try {
      await this.sqlite.backup(toPath);
      this.logger.info("backup written", { path: toPath });
    } catch (error) {
      throw guardError(error);
    }
  }

  /**
   * A consistent export of the state tables in chunks (for a node catching up): a separate read
   * connection (a serialized copy for ":memory:") that sees the state as of this call, whatever is
   * applied afterwards. Close it when done.
   */
  exportState(options: StateExportOptions = {}): StateExport {
    this.checkOpen();
    const exported = openStateExport({
      sqlite: this.sqlite,
      path: this.path,
      options,
      onClose: (done) => this.exports.delete(done),
    });
    this.exports.add(exported);
    return exported;
  }

  /**
   * Imports exported chunks into this database, whose state, blocks and tip must be empty (NOT_EMPTY),
   * in ONE transaction; when `expect` is given the imported tip must equal it (STATE_CHUNK_INVALID).
   */
  importState(chunks: Iterable<Uint8Array>, expect?: Tip, options: StateImportOptions = {}): Tip {
    this.checkOpen();
    this.state.resetCaches();
    let tip: Tip;
    try {
      tip = guard(() => importState(this.sqlite, chunks, expect, options));
    } finally {
      this.state.resetCaches();
    }
    this.logger.info("state imported", { height: tip.height, appliedIndex: tip.appliedIndex });
    return tip;
  }

  /** Closes open exports, then the database. Idempotent. */
  close(): void {
    for (const exported of [...this.exports]) exported.close();
    if (this.sqlite.open) this.sqlite.close();
  }

  private checkOpen(): void {
    if (!this.sqlite.open) throw new NodeError("STORAGE_CLOSED", "the chain database is closed");
  }
}

function guardError(error: unknown): unknown {
  try {
    return guard(() => {
      throw error;
    });
  } catch (mapped) {
    return mapped;
  }
}

function configure(sqlite: Database.Database, readonly: boolean): void {
  sqlite.pragma(`busy_timeout = ${sqlite_busy_timeout_ms}`);
  sqlite.pragma("foreign_keys = ON");
  if (!readonly) {
    sqlite.pragma("journal_mode = WAL");
    sqlite.pragma("synchronous = FULL");
    sqlite.pragma(`journal_size_limit = ${sqlite_wal_bytes_max}`);
  } else {
    sqlite.pragma("query_only = ON");
  }
  const id = sqlite.pragma("application_id", { simple: true }) as number;
  if (id !== 0 && id !== CHAIN_DB_APPLICATION_ID) {
    throw new NodeError("STORAGE_CORRUPT", `not a medledger chain database (application_id ${id})`);
  }
  if (id === 0) {
    const tables = sqlite.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").all() as Array<{
      name: string;
    }>;
    if (tables.length > 0 && !tables.some((table) => table.name === "migrations")) {
      throw new NodeError(
        "STORAGE_CORRUPT",
        "not a medledger chain database (foreign tables, no migrations)",
      );
    }
  }
}

/** sha256 of a migration's SQL, recorded when it is applied. */
export function migrationHash(sql: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(sql, "utf8").digest());
}

/** Applies pending migrations (each in its own transaction); returns every applied number. */
function migrate(sqlite: Database.Database, context: { readonly: boolean; logger: Logger }): number[] {
  checkMigrationList(MIGRATIONS);
  if (!context.readonly) {
    guard(() => {
      sqlite.exec(`CREATE TABLE IF NOT EXISTS migrations (
        number INTEGER PRIMARY KEY, sql_hash BLOB NOT NULL, applied_at_ms INTEGER NOT NULL) STRICT`);
      sqlite.pragma(`application_id = ${CHAIN_DB_APPLICATION_ID}`);
    });
  }
  const applied = guard(() => readApplied(sqlite));
  checkApplied(applied);
  const pending = MIGRATIONS.filter(([number]) => !applied.has(number));
  if (pending.length > 0 && context.readonly) {
    throw new NodeError("MIGRATION_FAILED", `read-only database lacks migrations ${pending.map(([n]) => n)}`);
  }
  const record = context.readonly
    ? null
    : sqlite.prepare("INSERT INTO migrations (number, sql_hash, applied_at_ms) VALUES (?, ?, ?)");
  for (const [number, sql] of pending) {
    try {
      sqlite.transaction(() => {
        sqlite.exec(sql);
        record?.run(number, migrationHash(sql), Date.now());
      })();
    } catch (error) {
      const mapped = guardError(error);
      if (mapped instanceof NodeError) throw mapped;
      throw new NodeError("MIGRATION_FAILED", `migration ${number} failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
    context.logger.info("migration applied", { number });
  }
  return MIGRATIONS.map(([number]) => number);
}

function readApplied(sqlite: Database.Database): Map<number, Uint8Array> {
  const exists = sqlite
    .prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'migrations'")
    .get();
  if (exists === undefined) return new Map();
  const rows = sqlite.prepare("SELECT number, sql_hash FROM migrations ORDER BY number").all() as Array<{
    number: number;
    sql_hash: Buffer;
  }>;
  return new Map(rows.map((row) => [row.number, new Uint8Array(row.sql_hash)]));
}

/** Throws MIGRATION_FAILED when the database ran a migration this code does not know, or another SQL. */
function checkApplied(applied: Map<number, Uint8Array>): void {
  const known = new Map(MIGRATIONS.map(([number, sql]) => [number, sql]));
  for (const [number, hash] of applied) {
    const sql = known.get(number);
    if (sql === undefined) {
      throw new NodeError(
        "MIGRATION_FAILED",
        `the database has migration ${number}: it is newer than this code`,
      );
    }
    if (Buffer.compare(Buffer.from(hash), Buffer.from(migrationHash(sql))) !== 0) {
      throw new NodeError("MIGRATION_FAILED", `migration ${number} was rewritten after it was applied`);
    }
  }
}

/** Asserts the migration list is numbered 1, 2, 3... without gaps (a bug otherwise). */
export function checkMigrationList(migrations: readonly Migration[]): void {
  migrations.forEach(([number], index) => {
    if (number !== index + 1) {
      throw new NodeError("NODE_INVARIANT", `invariant broken: migration ${index + 1} is numbered ${number}`);
    }
  });
}
