/**
 * The node's vault master key file, `dataDir/vault.key`: a small JSON object,
 *   {"version":1,"type":"aes-256-kw","key":"<64 lowercase hex>"}
 * owned by the node's user with mode 0600. It is made once, atomically: written in full to a private
 * temporary file, flushed, then hard-linked into place, which fails rather than overwrites when another
 * process got there first (then that process's key is read). Losing this file loses every record in the
 * vault: back it up apart from the vault database.
 */
import { randomBytes } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { NodeError } from "../errors.js";
import { vault_key_file_bytes_max } from "../limits.js";
import { VAULT_KEY_BYTES } from "./crypto.js";

/** The vault database's file name inside the node's data directory. */
export const VAULT_DB_FILE = "vault.db";
/** The vault master key's file name inside the node's data directory. */
export const VAULT_KEY_FILE = "vault.key";

const KEY_FILE_VERSION = 1;
const KEY_FILE_TYPE = "aes-256-kw";
const KEY_FILE_FIELDS = ["key", "type", "version"];
const KEY_HEX_PATTERN = /^[0-9a-f]{64}$/;

/** Reads the 32-byte master key from dataDir/vault.key, creating it (random, mode 0600, atomically) if absent; VAULT_KEY_INVALID on a bad file. */
export function loadOrCreateMasterKey(dataDir: string): Uint8Array {
  const path = join(dataDir, VAULT_KEY_FILE);
  if (!exists(path)) createKeyFile(dataDir, path);
  return readKeyFile(path);
}

/** The JSON text of a key file holding `key`. */
export function encodeMasterKeyFile(key: Uint8Array): string {
  if (key.length !== VAULT_KEY_BYTES) throw invalid("a vault master key is 32 bytes");
  return `${JSON.stringify({ version: KEY_FILE_VERSION, type: KEY_FILE_TYPE, key: Buffer.from(key).toString("hex") })}\n`;
}

/** The key in the JSON text of a key file; throws VAULT_KEY_INVALID on anything but the exact format. */
export function decodeMasterKeyFile(text: string): Uint8Array {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw invalid("the vault key file is not JSON", cause);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw invalid("the vault key file is not a JSON object");
  }
  const fields = parsed as Record<string, unknown>;
  if (Object.keys(fields).sort().join(",") !== KEY_FILE_FIELDS.join(",")) {
    throw invalid(`the vault key file must have exactly the fields ${KEY_FILE_FIELDS.join(", ")}`);
  }
  if (fields.version !== KEY_FILE_VERSION || fields.type !== KEY_FILE_TYPE) {
    throw invalid(`the vault key file must be version ${KEY_FILE_VERSION}, type ${KEY_FILE_TYPE}`);
  }
  if (typeof fields.key !== "string" || !KEY_HEX_PATTERN.test(fields.key)) {
    throw invalid("the vault key file's key must be 64 lowercase hex digits");
  }
  return new Uint8Array(Buffer.from(fields.key, "hex"));
}

function readKeyFile(path: string): Uint8Array {
  let stats: ReturnType<typeof statSync>;
  let text: string;
  try {
    stats = statSync(path);
    if (!stats.isFile()) throw invalid(`${path} is not a regular file`);
    if (stats.size > vault_key_file_bytes_max)
      throw invalid(`${path} is larger than ${vault_key_file_bytes_max} bytes`);
    text = readFileSync(path, "utf8");
  } catch (error) {
    if (error instanceof NodeError) throw error;
    throw invalid(`cannot read ${path}: ${(error as Error).message}`, error);
  }
  // Like ssh with its keys: a master key others can read is refused rather than used.
  if (process.platform !== "win32" && (stats.mode & 0o077) !== 0) {
    throw invalid(
      `${path} is readable or writable by others (mode ${(stats.mode & 0o777).toString(8)}): chmod 600 it`,
    );
  }
  return decodeMasterKeyFile(text);
}

function createKeyFile(dataDir: string, path: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const temporary = join(dataDir, `.${VAULT_KEY_FILE}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  const key = randomBytes(VAULT_KEY_BYTES);
  const descriptor = openSync(temporary, "wx", 0o600);
  try {
    writeSync(descriptor, encodeMasterKeyFile(key));
    fsyncSync(descriptor);
  } finally {
    closeSync(descriptor);
    key.fill(0);
  }
  try {
    linkSync(temporary, path); // never replaces: EEXIST when another process made the key first
  } catch (error) {
    if ((error as { code?: unknown }).code !== "EEXIST") throw error;
  } finally {
    unlinkSync(temporary);
  }
  syncDirectory(dataDir);
}

function syncDirectory(directory: string): void {
  if (process.platform === "win32") return;
  const descriptor = openSync(directory, "r");
  try {
    fsyncSync(descriptor);
  } finally {
    closeSync(descriptor);
  }
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (error) {
    if ((error as { code?: unknown }).code === "ENOENT") return false;
    throw invalid(`cannot read ${path}: ${(error as Error).message}`, error);
  }
}

function invalid(message: string, cause?: unknown): NodeError {
  return new NodeError("VAULT_KEY_INVALID", message, { cause });
}
