/**
 * Backup and restore of a node's data directory as ONE archive file.
 *
 * `backupNode` copies chain.db and vault.db with SQLite's online backup (consistent while the node
 * runs and writes) and packs them, with the small files of the data directory that exist (vault.key,
 * admin.token, genesis.json, node.key), into a POSIX ustar archive (`tar -tvf` lists it) whose first
 * entry is manifest.json: the format, the time, the chain tip of the copy, and each file's size and
 * sha256. The archive holds the node's secrets (the vault master key, maybe the node key): it is
 * written with mode 0600; keep it like a key.
 *
 * `restoreNode` refuses a data directory that holds anything unless `force` (then it replaces only
 * the files an archive can hold, and the databases' -wal and -shm files). It unpacks into a temporary
 * directory inside the target, checks every entry against the manifest's sha256 and runs SQLite's
 * integrity check on both databases, and only then moves the files into place.
 */
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import Database from "better-sqlite3";
import { NodeError } from "./errors.js";
import { openChainDb } from "./storage/db.js";

/** The format name in a backup's manifest. */
export const BACKUP_FORMAT = "medledger-backup/1";
/** The databases a backup copies with SQLite's online backup. */
export const BACKUP_DATABASES = ["chain.db", "vault.db"] as const;
/** The small files a backup copies as they are, when present. */
export const BACKUP_FILES = ["vault.key", "admin.token", "genesis.json", "node.key"] as const;

const MANIFEST = "manifest.json";
const manifest_bytes_max = 64 * 1024;
const tar_block_bytes = 512;
const copy_chunk_bytes = 1024 * 1024;
/** An ustar size field holds 11 octal digits. */
const tar_entry_bytes_max = 8 ** 11 - 1;

/** One file in a backup. */
export interface BackupEntry {
  readonly name: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** The manifest of a backup (its first entry). */
export interface BackupManifest {
  readonly format: typeof BACKUP_FORMAT;
  readonly createdAtMs: number;
  /** The chain tip in the copied chain database. */
  readonly tip: { readonly height: number; readonly blockHash: string; readonly appHash: string };
  readonly files: readonly BackupEntry[];
}

/** Writes a backup of `dataDir` to `outFile` (replaced atomically); returns its manifest. */
export async function backupNode(options: { dataDir: string; outFile: string }): Promise<BackupManifest> {
  const chainPath = join(options.dataDir, "chain.db");
  if (!existsSync(chainPath)) {
    throw new NodeError("OPTIONS_INVALID", `${options.dataDir} holds no chain.db`);
  }
  const work = mkdtempSync(join(dirname(options.outFile), ".medledger-backup-"));
  try {
    const names: string[] = [];
    for (const name of BACKUP_DATABASES) {
      const source = join(options.dataDir, name);
      if (!existsSync(source)) continue;
      await onlineBackup(source, join(work, name));
      names.push(name);
    }
    for (const name of BACKUP_FILES) {
      const source = join(options.dataDir, name);
      if (!existsSync(source)) continue;
      copyFile(source, join(work, name));
      names.push(name);
    }
    checkDatabases(work);
    const manifest: BackupManifest = {
      format: BACKUP_FORMAT,
      createdAtMs: Date.now(),
      tip: readTip(join(work, "chain.db")),
      files: names.map((name) => ({
        name,
        bytes: statSync(join(work, name)).size,
        sha256: hashFile(join(work, name)),
      })),
    };
    writeArchive(options.outFile, work, manifest);
    return manifest;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Restores the backup `from` into `dataDir`; NOT_EMPTY unless the directory is empty or `force`. */
export function restoreNode(options: { from: string; dataDir: string; force?: boolean }): BackupManifest {
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const present = readdirSync(options.dataDir);
  if (present.length > 0 && options.force !== true) {
    throw new NodeError(
      "NOT_EMPTY",
      `${options.dataDir} is not empty (${present.length} entries): use force`,
    );
  }
  const work = mkdtempSync(join(options.dataDir, ".medledger-restore-"));
  try {
    const manifest = readArchive(options.from, work);
    checkDatabases(work);
    for (const name of [...BACKUP_DATABASES, ...BACKUP_FILES]) {
      for (const suffix of ["", "-wal", "-shm"])
        rmSync(join(options.dataDir, name + suffix), { force: true });
    }
    for (const entry of manifest.files) renameSync(join(work, entry.name), join(options.dataDir, entry.name));
    return manifest;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function onlineBackup(source: string, target: string): Promise<void> {
  const sqlite = new Database(source, { fileMustExist: true });
  try {
    sqlite.pragma("query_only = ON");
    await sqlite.backup(target);
  } catch (error) {
    throw new NodeError(
      "STORAGE_IO",
      `the backup of ${basename(source)} failed: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  } finally {
    sqlite.close();
  }
}

/** SQLite's integrity check of both databases in `dir` (STORAGE_CORRUPT otherwise). */
function checkDatabases(dir: string): void {
  const chain = openChainDb({ path: join(dir, "chain.db"), readonly: true });
  try {
    const report = chain.integrityCheck();
    if (!report.ok) {
      throw new NodeError("STORAGE_CORRUPT", `chain.db fails its integrity check: ${report.problems[0]}`);
    }
  } finally {
    chain.close();
  }
  const vaultPath = join(dir, "vault.db");
  if (!existsSync(vaultPath)) return;
  const vault = new Database(vaultPath, { readonly: true, fileMustExist: true });
  try {
    const rows = vault.pragma("integrity_check") as Array<{ integrity_check: string }>;
    const bad = rows.find((row) => row.integrity_check !== "ok");
    if (bad !== undefined) {
      throw new NodeError("STORAGE_CORRUPT", `vault.db fails its integrity check: ${bad.integrity_check}`);
    }
  } finally {
    vault.close();
  }
}

function readTip(path: string): BackupManifest["tip"] {
  const db = openChainDb({ path, readonly: true });
  try {
    const tip = db.blocks.tip();
    if (tip === null) return { height: 0, blockHash: "", appHash: "" };
    return {
      height: tip.height,
      blockHash: Buffer.from(tip.blockHash).toString("hex"),
      appHash: Buffer.from(tip.appHash).toString("hex"),
    };
  } finally {
    db.close();
  }
}

// ---- files ---------------------------------------------------------------------------------------

function copyFile(source: string, target: string): void {
  const out = openSync(target, "w", 0o600);
  try {
    streamInto(source, (chunk) => writeSync(out, chunk));
  } finally {
    closeSync(out);
  }
}

function hashFile(path: string): string {
  const hash = createHash("sha256");
  streamInto(path, (chunk) => hash.update(chunk));
  return hash.digest("hex");
}

function streamInto(path: string, sink: (chunk: Uint8Array) => void): void {
  const input = openSync(path, "r");
  const buffer = Buffer.alloc(copy_chunk_bytes);
  try {
    for (;;) {
      const read = readSync(input, buffer, 0, buffer.length, null);
      if (read === 0) return;
      sink(buffer.subarray(0, read));
    }
  } finally {
    closeSync(input);
  }
}

// ---- the ustar archive ---------------------------------------------------------------------------

function writeArchive(outFile: string, dir: string, manifest: BackupManifest): void {
  const partial = `${outFile}.partial`;
  const out = openSync(partial, "w", 0o600);
  try {
    const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
    writeSync(out, tarHeader(MANIFEST, manifestBytes.length, manifest.createdAtMs));
    writeSync(out, manifestBytes);
    writeSync(out, padding(manifestBytes.length));
    for (const entry of manifest.files) {
      writeSync(out, tarHeader(entry.name, entry.bytes, manifest.createdAtMs));
      streamInto(join(dir, entry.name), (chunk) => writeSync(out, chunk));
      writeSync(out, padding(entry.bytes));
    }
    writeSync(out, Buffer.alloc(tar_block_bytes * 2));
  } finally {
    closeSync(out);
  }
  renameSync(partial, outFile);
}

function tarHeader(name: string, size: number, mtimeMs: number): Buffer {
  if (size > tar_entry_bytes_max) throw new NodeError("OPTIONS_INVALID", `${name} is too large for a backup`);
  const header = Buffer.alloc(tar_block_bytes);
  header.write(name, 0, 100, "utf8");
  header.write("0000600\0", 100, "ascii");
  header.write("0000000\0", 108, "ascii");
  header.write("0000000\0", 116, "ascii");
  header.write(`${size.toString(8).padStart(11, "0")}\0`, 124, "ascii");
  header.write(
    `${Math.floor(mtimeMs / 1000)
      .toString(8)
      .padStart(11, "0")}\0`,
    136,
    "ascii",
  );
  header.write("        ", 148, "ascii");
  header.write("0", 156, "ascii");
  header.write("ustar\0" + "00", 257, "ascii");
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
  return header;
}

function padding(size: number): Buffer {
  const rest = size % tar_block_bytes;
  return Buffer.alloc(rest === 0 ? 0 : tar_block_bytes - rest);
}

/** Unpacks the archive into `dir`, checking names, sizes and hashes against its manifest. */
function readArchive(path: string, dir: string): BackupManifest {
  const input = openSync(path, "r");
  try {
    const reader = { fd: input, position: 0 };
    const first = readEntryHeader(reader);
    if (first === null || first.name !== MANIFEST || first.size > manifest_bytes_max) {
      throw corrupt("the archive does not start with its manifest");
    }
    const manifest = parseManifest(readExact(reader, first.size).toString("utf8"));
    skip(reader, padding(first.size).length);
    for (const entry of manifest.files) {
      const header = readEntryHeader(reader);
      if (header === null || header.name !== entry.name || header.size !== entry.bytes) {
        throw corrupt(`the archive's entry for ${entry.name} is missing or differs from the manifest`);
      }
      const hash = createHash("sha256");
      const out = openSync(join(dir, entry.name), "w", 0o600);
      try {
        let left = header.size;
        while (left > 0) {
          const chunk = readExact(reader, Math.min(left, copy_chunk_bytes));
          hash.update(chunk);
          writeSync(out, chunk);
          left -= chunk.length;
        }
      } finally {
        closeSync(out);
      }
      if (hash.digest("hex") !== entry.sha256) throw corrupt(`${entry.name} does not match its sha256`);
      skip(reader, padding(header.size).length);
    }
    return manifest;
  } finally {
    closeSync(input);
  }
}

interface Reader {
  fd: number;
  position: number;
}

function readExact(reader: Reader, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const read = readSync(reader.fd, buffer, done, length - done, reader.position);
    if (read === 0) throw corrupt("the archive ends early");
    done += read;
    reader.position += read;
  }
  return buffer;
}

function skip(reader: Reader, length: number): void {
  if (length > 0) readExact(reader, length);
}

function readEntryHeader(reader: Reader): { name: string; size: number } | null {
  const header = readExact(reader, tar_block_bytes);
  if (header.every((byte) => byte === 0)) return null;
  const end = header.indexOf(0);
  const name = header.toString("utf8", 0, end === -1 || end > 100 ? 100 : end);
  const sizeText = header.toString("ascii", 124, 136).replace(/\0.*$/s, "").trim();
  if (!/^[0-7]{1,11}$/.test(sizeText)) throw corrupt("an archive header's size is malformed");
  return { name, size: Number.parseInt(sizeText, 8) };
}

function parseManifest(text: string): BackupManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw corrupt("the manifest is not JSON");
  }
  const manifest = value as Partial<BackupManifest> | null;
  if (manifest === null || typeof manifest !== "object" || manifest.format !== BACKUP_FORMAT) {
    throw corrupt(`not a ${BACKUP_FORMAT} archive`);
  }
  const allowed = new Set<string>([...BACKUP_DATABASES, ...BACKUP_FILES]);
  const files = Array.isArray(manifest.files) ? manifest.files : [];
  const names = new Set<string>();
  for (const entry of files) {
    const ok =
      typeof entry === "object" &&
      entry !== null &&
      typeof entry.name === "string" &&
      allowed.has(entry.name) &&
      !names.has(entry.name) &&
      Number.isSafeInteger(entry.bytes) &&
      entry.bytes >= 0 &&
      typeof entry.sha256 === "string" &&
      /^[0-9a-f]{64}$/.test(entry.sha256);
    if (!ok) throw corrupt("the manifest lists a malformed or unexpected file");
    names.add(entry.name);
  }
  if (!names.has("chain.db")) throw corrupt("the archive holds no chain.db");
  const tip = manifest.tip;
  if (typeof tip !== "object" || tip === null || !Number.isSafeInteger(tip.height)) {
    throw corrupt("the manifest's tip is malformed");
  }
  return {
    format: BACKUP_FORMAT,
    createdAtMs: Number(manifest.createdAtMs ?? 0),
    tip: { height: tip.height, blockHash: String(tip.blockHash), appHash: String(tip.appHash) },
    files,
  };
}

function corrupt(message: string): NodeError {
  return new NodeError("STORAGE_CORRUPT", `the backup is unusable: ${message}`);
}
