/**
 * The vault: the node's off-chain store of PHI, one SQLite file (vault.db) beside the chain database.
 *
 * Every record is sealed by crypto.ts (AES-256-GCM under its own data key, the data key wrapped by the
 * node's master key); the database never holds a plaintext or an unwrapped key.
 *
 * Erasure is physical, not logical. The connection runs with `secure_delete = ON`: SQLite overwrites
 * deleted cells, freed overflow pages and defragmented free space with zeros. In WAL mode the zeroed
 * page images are first appended to vault.db-wal while vault.db (and older WAL frames) still hold the
 * old images, so every erase then runs `wal_checkpoint(TRUNCATE)`: the zeroed pages are copied over
 * the old ones in vault.db, fsynced, and the WAL is cut to zero bytes. vault.db-shm is the WAL index
 * (page numbers and frame offsets, never row content). `temp_store = MEMORY` keeps sorter and temporary
 * tables off the disk. A checkpoint also runs at open, finishing an erase a crash interrupted between
 * its commit and its checkpoint. What the file system or the disk keeps of overwritten blocks (copy on
 * write, SSD remapping, snapshots, backups) is beyond a database's reach: that is what destroying the
 * wrapped data key is for, and why the master key stays outside the database.
 */
import { createHash } from "node:crypto";
import { bytesEqual, isCategory, isProtocolError, parseBody } from "@medledger/protocol";
import Database from "better-sqlite3";
import { invariant, NodeError } from "../errors.js";
import {
  sqlite_busy_timeout_ms,
  vault_checkpoint_attempts_max,
  vault_checkpoint_busy_timeout_ms,
  vault_record_bytes_max,
} from "../limits.js";
import { checkMigrationList, migrationHash } from "../storage/db.js";
import { bytes, storageError } from "../storage/sql.js";
import { openVaultRecord, sealVaultRecord, VAULT_KEY_BYTES, vaultMasterKeyCheck } from "./crypto.js";
import { VAULT_MIGRATIONS } from "./migrations.js";
import type { VaultLookup, VaultRecordMeta } from "./types.js";

/** "MLVT": the SQLite application_id of a medledger vault database. */
export const VAULT_DB_APPLICATION_ID = 0x4d4c5654;

/** Options of Vault.open. */
export interface VaultOptions {
  /** The database file, or ":memory:" (tests). */
  path: string;
  /** The node's 32-byte master key (loadOrCreateMasterKey). */
  masterKey: Uint8Array;
  /** The clock of tombstones, in ms since the epoch (default Date.now). */
  now?: () => number;
}

interface RecordRow {
  record: string;
  patient: string;
  category: string;
  format: string;
  content_hash: Uint8Array;
  version: number;
  wrapped_key: Uint8Array;
  iv: Uint8Array;
  ciphertext: Uint8Array;
}

/** The prepared statements of one open vault. */
class Statements {
  readonly insert: Database.Statement;
  readonly select: Database.Statement;
  readonly exists: Database.Statement;
  readonly remove: Database.Statement;
  readonly tombstone: Database.Statement;
  readonly insertTombstone: Database.Statement;

  constructor(sqlite: Database.Database) {
    this.insert = sqlite.prepare(
      `INSERT INTO records (record, patient, category, format, content_hash, version, wrapped_key, iv,
        ciphertext, stored_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.select = sqlite.prepare("SELECT * FROM records WHERE record = ?");
    this.exists = sqlite.prepare("SELECT 1 FROM records WHERE record = ?");
    this.remove = sqlite.prepare("DELETE FROM records WHERE record = ?");
    this.tombstone = sqlite.prepare("SELECT erased_at_ms FROM tombstones WHERE record = ?");
    this.insertTombstone = sqlite.prepare("INSERT INTO tombstones (record, erased_at_ms) VALUES (?, ?)");
  }
}

/** The vault of one node; open it with Vault.open. */
export class Vault {
  private readonly sqlite: Database.Database;
  private readonly statements: Statements;
  private readonly masterKey: Uint8Array;
  private readonly now: () => number;

  private constructor(parts: { sqlite: Database.Database; masterKey: Uint8Array; now: () => number }) {
    this.sqlite = parts.sqlite;
    this.masterKey = parts.masterKey;
    this.now = parts.now;
    this.statements = new Statements(parts.sqlite);
  }

  /**
   * Opens (creating and migrating if needed) the vault at `options.path`. Throws VAULT_KEY_INVALID when
   * the master key is not 32 bytes or is not the key this vault was created with (vault.key replaced),
   * STORAGE_CORRUPT when the file is another kind of database.
   */
  static open(options: VaultOptions): Vault {
    const masterKey = options.masterKey;
    if (!(masterKey instanceof Uint8Array) || masterKey.length !== VAULT_KEY_BYTES) {
      throw new NodeError("VAULT_KEY_INVALID", `a vault master key is ${VAULT_KEY_BYTES} bytes`);
    }
    const now = options.now ?? Date.now;
    const sqlite = guard(() => new Database(options.path, { timeout: sqlite_busy_timeout_ms }));
    try {
      guard(() => configure(sqlite));
      migrate(sqlite);
      guard(() => checkMasterKey(sqlite, masterKey, now));
      const vault = new Vault({ sqlite, masterKey: masterKey.slice(), now });
      vault.checkpoint();
      return vault;
    } catch (error) {
      sqlite.close();
      throw error;
    }
  }

  /** Encrypts and stores; VAULT_HASH_MISMATCH if sha256(plaintext) != meta.contentHash; VAULT_RECORD_EXISTS if present or erased; VAULT_TOO_LARGE over vault_record_bytes_max. */
  put(meta: VaultRecordMeta, plaintext: Uint8Array): void {
    this.checkOpen();
    const clean = parseMeta(meta);
    if (!(plaintext instanceof Uint8Array)) {
      throw new NodeError("VAULT_RECORD_INVALID", "a record's plaintext must be a Uint8Array");
    }
    if (plaintext.length > vault_record_bytes_max) {
      throw new NodeError(
        "VAULT_TOO_LARGE",
        `record ${JSON.stringify(clean.record)} is ${plaintext.length} bytes, over vault_record_bytes_max (${vault_record_bytes_max})`,
      );
    }
    if (!bytesEqual(sha256(plaintext), clean.contentHash)) {
      throw new NodeError(
        "VAULT_HASH_MISMATCH",
        `record ${JSON.stringify(clean.record)}: sha256 of the plaintext is not its contentHash`,
      );
    }
    this.refuseExisting(clean.record); // before sealing: a refused put costs no encryption
    const sealed = sealVaultRecord(this.masterKey, clean, plaintext);
    const storedAt = this.now();
    guard(() =>
      this.sqlite.transaction(() => {
        this.refuseExisting(clean.record);
        this.statements.insert.run(
          clean.record,
          clean.patient,
          clean.category,
          clean.format,
          clean.contentHash,
          sealed.version,
          sealed.wrappedKey,
          sealed.iv,
          sealed.ciphertext,
          storedAt,
        );
      })(),
    );
  }

  /** Decrypts; VAULT_CORRUPT if authentication fails. */
  get(record: string): VaultLookup {
    this.checkOpen();
    const id = parseRecordId(record);
    const row = guard(() => this.statements.select.get(id) as RecordRow | undefined);
    if (row === undefined) {
      const erasedAt = this.erasedAt(id);
      return erasedAt === undefined ? { state: "absent" } : { state: "erased", erasedAt };
    }
    const meta = metaOfRow(row);
    const plaintext = openVaultRecord(this.masterKey, meta, {
      version: row.version,
      wrappedKey: bytes(row.wrapped_key),
      iv: bytes(row.iv),
      ciphertext: bytes(row.ciphertext),
    });
    // The tag authenticates the content hash with the ciphertext; this only guards against a bug.
    invariant(bytesEqual(sha256(plaintext), meta.contentHash), "a vault plaintext matches its content hash");
    return { state: "present", meta, plaintext };
  }

  /** Removes a record that was put but whose anchor never committed (no tombstone). */
  discard(record: string): boolean {
    this.checkOpen();
    const id = parseRecordId(record);
    const removed = guard(() => this.statements.remove.run(id).changes > 0);
    if (removed) this.checkpoint();
    return removed;
  }

  /** Destroys ciphertext and wrapped key (secure_delete on, then a WAL checkpoint TRUNCATE), keeps a tombstone (record id, erasedAt). Returns false when absent. Idempotent. */
  erase(record: string): boolean {
    this.checkOpen();
    const id = parseRecordId(record);
    const erasedAt = this.now();
    const known = guard(() =>
      this.sqlite.transaction(() => {
        const removed = this.statements.remove.run(id).changes > 0;
        const tombstoned = this.statements.tombstone.get(id) !== undefined;
        if (removed && !tombstoned) this.statements.insertTombstone.run(id, erasedAt);
        return removed || tombstoned;
      })(),
    );
    // Also when already erased: a retry finishes a checkpoint an earlier call could not complete.
    if (known) this.checkpoint();
    return known;
  }

  /** Closes the database and forgets the master key. Idempotent. */
  close(): void {
    if (this.sqlite.open) this.sqlite.close();
    this.masterKey.fill(0);
  }

  /** The time `record` was erased, or undefined when it never was. */
  private erasedAt(record: string): number | undefined {
    const row = guard(() => this.statements.tombstone.get(record) as { erased_at_ms: number } | undefined);
    return row?.erased_at_ms;
  }

  private refuseExisting(record: string): void {
    const present = guard(() => this.statements.exists.get(record) !== undefined);
    if (present || this.erasedAt(record) !== undefined) {
      throw new NodeError(
        "VAULT_RECORD_EXISTS",
        `record ${JSON.stringify(record)} is ${present ? "already in the vault" : "erased and cannot be put again"}`,
      );
    }
  }

  /**
   * Copies every WAL frame into vault.db and truncates the WAL to zero bytes. A reader on another
   * connection can keep the WAL from being reset; after vault_checkpoint_attempts_max tries (each
   * waiting up to vault_checkpoint_busy_timeout_ms) that is VAULT_ERASE_INCOMPLETE, and erasing again finishes it.
   */
  private checkpoint(): void {
    guard(() => this.sqlite.pragma(`busy_timeout = ${vault_checkpoint_busy_timeout_ms}`));
    try {
      for (let attempt = 1; attempt <= vault_checkpoint_attempts_max; attempt++) {
        const [result] = guard(
          () => this.sqlite.pragma("wal_checkpoint(TRUNCATE)") as Array<{ busy: number; log: number }>,
        );
        invariant(result !== undefined, "wal_checkpoint answers one row");
        if (result.busy === 0 && result.log <= 0) return; // log is -1 when not in WAL mode (":memory:")
      }
    } finally {
      guard(() => this.sqlite.pragma(`busy_timeout = ${sqlite_busy_timeout_ms}`));
    }
    throw new NodeError(
      "VAULT_ERASE_INCOMPLETE",
      "the vault WAL could not be checkpointed and truncated (another connection is reading it): erase again",
    );
  }

  private checkOpen(): void {
    if (!this.sqlite.open) throw new NodeError("VAULT_CLOSED", "the vault is closed");
  }
}

function configure(sqlite: Database.Database): void {
  sqlite.pragma(`busy_timeout = ${sqlite_busy_timeout_ms}`);
  const id = sqlite.pragma("application_id", { simple: true }) as number;
  if (id !== 0 && id !== VAULT_DB_APPLICATION_ID) {
    throw new NodeError("STORAGE_CORRUPT", `not a medledger vault database (application_id ${id})`);
  }
  if (id === 0) {
    const tables = sqlite.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").all() as Array<{
      name: string;
    }>;
    if (tables.length > 0 && !tables.some((table) => table.name === "migrations")) {
      throw new NodeError("STORAGE_CORRUPT", "not a medledger vault database (foreign tables)");
    }
  }
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = FULL");
  sqlite.pragma("secure_delete = ON");
  sqlite.pragma("temp_store = MEMORY");
  invariant(
    sqlite.pragma("secure_delete", { simple: true }) === 1,
    "the vault connection has secure_delete on",
  );
}

/** Applies pending vault migrations (each in its own transaction, recorded with its SQL's hash). */
function migrate(sqlite: Database.Database): void {
  checkMigrationList(VAULT_MIGRATIONS);
  guard(() => {
    sqlite.exec(`CREATE TABLE IF NOT EXISTS migrations (
      number INTEGER PRIMARY KEY, sql_hash BLOB NOT NULL, applied_at_ms INTEGER NOT NULL) STRICT`);
    sqlite.pragma(`application_id = ${VAULT_DB_APPLICATION_ID}`);
  });
  const rows = guard(
    () =>
      sqlite.prepare("SELECT number, sql_hash FROM migrations").all() as Array<{
        number: number;
        sql_hash: Buffer;
      }>,
  );
  const known = new Map(VAULT_MIGRATIONS.map(([number, sql]) => [number, sql]));
  for (const row of rows) {
    const sql = known.get(row.number);
    if (sql === undefined) {
      throw new NodeError(
        "MIGRATION_FAILED",
        `the vault has migration ${row.number}: it is newer than this code`,
      );
    }
    if (!bytesEqual(bytes(row.sql_hash), migrationHash(sql))) {
      throw new NodeError(
        "MIGRATION_FAILED",
        `vault migration ${row.number} was rewritten after it was applied`,
      );
    }
  }
  const applied = new Set(rows.map((row) => row.number));
  const record = sqlite.prepare("INSERT INTO migrations (number, sql_hash, applied_at_ms) VALUES (?, ?, ?)");
  for (const [number, sql] of VAULT_MIGRATIONS) {
    if (applied.has(number)) continue;
    try {
      sqlite.transaction(() => {
        sqlite.exec(sql);
        record.run(number, migrationHash(sql), Date.now());
      })();
    } catch (error) {
      throw new NodeError(
        "MIGRATION_FAILED",
        `vault migration ${number} failed: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }
}

/** Stores the master key's check value in a new vault; refuses another key for an existing one. */
function checkMasterKey(sqlite: Database.Database, masterKey: Uint8Array, now: () => number): void {
  const check = vaultMasterKeyCheck(masterKey);
  const row = sqlite.prepare("SELECT key_check FROM vault_meta WHERE id = 0").get() as
    | { key_check: Buffer }
    | undefined;
  if (row === undefined) {
    sqlite
      .prepare("INSERT INTO vault_meta (id, key_check, created_at_ms) VALUES (0, ?, ?)")
      .run(check, now());
    return;
  }
  if (!bytesEqual(bytes(row.key_check), check)) {
    throw new NodeError(
      "VAULT_KEY_INVALID",
      "the master key is not the one this vault was created with (was vault.key replaced or regenerated?)",
    );
  }
}

function parseMeta(meta: VaultRecordMeta): VaultRecordMeta {
  const source = meta as Partial<VaultRecordMeta> | null;
  try {
    return parseBody(
      "record.anchor",
      {
        record: source?.record,
        patient: source?.patient,
        category: source?.category,
        format: source?.format,
        contentHash: source?.contentHash,
      },
      "meta",
    );
  } catch (error) {
    if (!isProtocolError(error)) throw error;
    throw new NodeError("VAULT_RECORD_INVALID", `vault record metadata: ${error.message}`, { cause: error });
  }
}

function parseRecordId(record: string): string {
  try {
    return parseBody("record.erase", { record }, "record").record;
  } catch (error) {
    if (!isProtocolError(error)) throw error;
    throw new NodeError("VAULT_RECORD_INVALID", `vault record id: ${error.message}`, { cause: error });
  }
}

function metaOfRow(row: RecordRow): VaultRecordMeta {
  if (!isCategory(row.category)) {
    throw new NodeError(
      "VAULT_CORRUPT",
      `vault record ${JSON.stringify(row.record)} has an unknown category`,
    );
  }
  return {
    record: row.record,
    patient: row.patient,
    category: row.category,
    format: row.format,
    contentHash: bytes(row.content_hash),
  };
}

function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

/** Runs `fn`, turning SQLite errors with an expected cause into NodeErrors that name the vault. */
function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    const mapped = storageError(error);
    if (mapped instanceof NodeError && mapped !== error) {
      throw new NodeError(mapped.code, mapped.message.replace(/^chain database:/, "vault database:"), {
        cause: error,
      });
    }
    throw mapped;
  }
}
