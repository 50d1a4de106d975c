// Goal: the vault returns exactly what was put, refuses altered rows and foreign keys, and an erasure
// leaves none of the record's bytes in vault.db, vault.db-wal or vault.db-shm. Method: real files in a
// temporary directory; rows are read and altered through a second SQLite connection, and the scan reads
// the raw database files and searches them for 16-byte windows of the erased record's plaintext,
// ciphertext and wrapped key (and finds the kept records', so that the scan is not vacuous).
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Category, utf8 } from "@medledger/protocol";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { did } from "../../protocol/test/rules-fixtures.js";
import { hasNodeErrorCode, limits, openChainDb } from "../src/index.js";
import {
  loadOrCreateMasterKey,
  unwrapDataKey,
  VAULT_DB_FILE,
  VAULT_KEY_FILE,
  Vault,
  type VaultRecordMeta,
  wrapDataKey,
} from "../src/vault/index.js";

const root = mkdtempSync(join(tmpdir(), "medledger-vault-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
/** A fresh data directory. */
const freshDir = () => mkdtempSync(join(root, `node-${counter++}-`));
const masterKey = new Uint8Array(32).fill(7);
const otherMasterKey = new Uint8Array(32).fill(9);

function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

function metaOf(record: string, plaintext: Uint8Array, category: Category = "labs"): VaultRecordMeta {
  return { record, patient: did("pa"), category, format: "Observation", contentHash: sha256(plaintext) };
}

/** A distinctive plaintext of `size` bytes (a recognizable text, repeated, then random bytes). */
function plaintextOf(label: string, size: number): Uint8Array {
  const text = utf8(`PHI of ${label}: glucose 5.4 mmol/L, patient Jane Roe. `);
  const out = new Uint8Array(size);
  for (let index = 0; index < size; index++) out[index] = text[index % text.length] as number;
  out.set(randomBytes(Math.min(64, size)), Math.max(0, size - 64));
  return out;
}

function expectCode(fn: () => unknown, code: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `expected ${code}`).toBeDefined();
  expect((thrown as { code?: string }).code).toBe(code);
  expect(hasNodeErrorCode(thrown, code as never)).toBe(true);
}

interface StoredRow {
  wrapped_key: Buffer;
  iv: Buffer;
  ciphertext: Buffer;
}

/** The stored row of `record`, read through a second connection (closed again at once). */
function readRow(path: string, record: string): StoredRow {
  const sqlite = new Database(path, { readonly: true });
  try {
    const row = sqlite
      .prepare("SELECT wrapped_key, iv, ciphertext FROM records WHERE record = ?")
      .get(record);
    expect(row).toBeDefined();
    return row as StoredRow;
  } finally {
    sqlite.close();
  }
}

/** Runs `sql` on the vault file through a second connection (the vault must be closed). */
function alter(path: string, sql: string, ...params: unknown[]): void {
  const sqlite = new Database(path);
  try {
    expect(sqlite.prepare(sql).run(...params).changes).toBe(1);
  } finally {
    sqlite.close();
  }
}

describe("vault round trip", () => {
  it("returns what was put, across a reopen, and answers absent for the unknown", () => {
    const path = join(freshDir(), VAULT_DB_FILE);
    const small = plaintextOf("small", 300);
    const large = plaintextOf("large", 300_000);
    const empty = new Uint8Array(0);
    let vault = Vault.open({ path, masterKey });
    vault.put(metaOf("rec-small", small), small);
    vault.put(metaOf("rec-large", large, "mental-health"), large);
    vault.put(metaOf("rec-empty", empty), empty);
    vault.close();
    vault = Vault.open({ path, masterKey });
    for (const [record, plaintext, category] of [
      ["rec-small", small, "labs"],
      ["rec-large", large, "mental-health"],
      ["rec-empty", empty, "labs"],
    ] as const) {
      const found = vault.get(record);
      expect(found.state).toBe("present");
      if (found.state !== "present") continue;
      expect(Buffer.from(found.plaintext).equals(Buffer.from(plaintext))).toBe(true);
      expect(found.meta).toEqual({ ...metaOf(record, plaintext, category) });
    }
    expect(vault.get("rec-unknown")).toEqual({ state: "absent" });
    vault.close();
    vault.close(); // idempotent
    expectCode(() => vault.get("rec-small"), "VAULT_CLOSED");
  });

  it("stores no plaintext and a fresh data key and IV per record", () => {
    const path = join(freshDir(), VAULT_DB_FILE);
    const vault = Vault.open({ path, masterKey });
    const plaintext = plaintextOf("twin", 100);
    vault.put(metaOf("twin-1", plaintext), plaintext);
    vault.put(metaOf("twin-2", plaintext), plaintext);
    const one = readRow(path, "twin-1");
    const two = readRow(path, "twin-2");
    expect(one.wrapped_key.length).toBe(40);
    expect(one.iv.length).toBe(12);
    expect(one.ciphertext.length).toBe(plaintext.length + 16);
    expect(one.wrapped_key.equals(two.wrapped_key)).toBe(false);
    expect(one.iv.equals(two.iv)).toBe(false);
    expect(one.ciphertext.equals(two.ciphertext)).toBe(false);
    vault.close();
  });

  it("wraps keys with RFC 3394 AES Key Wrap (section 4.6 vector: 256-bit key under a 256-bit KEK)", () => {
    const kek = Buffer.from("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "hex");
    const key = Buffer.from("00112233445566778899aabbccddeeff000102030405060708090a0b0c0d0e0f", "hex");
    const wrapped = wrapDataKey(kek, key);
    expect(Buffer.from(wrapped).toString("hex")).toBe(
      "28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b9b7a02dd21",
    );
    expect(Buffer.from(unwrapDataKey(kek, wrapped, "vector")).equals(key)).toBe(true);
  });
});

describe("vault refusals", () => {
  it("refuses a hash mismatch, an oversized record, malformed metadata and a second put", () => {
    const vault = Vault.open({ path: join(freshDir(), VAULT_DB_FILE), masterKey });
    const plaintext = plaintextOf("refusals", 200);
    expectCode(() => vault.put(metaOf("r1", plaintextOf("other", 200)), plaintext), "VAULT_HASH_MISMATCH");
    const tooLarge = new Uint8Array(limits.vault_record_bytes_max + 1);
    expectCode(() => vault.put(metaOf("r1", tooLarge), tooLarge), "VAULT_TOO_LARGE");
    const largest = new Uint8Array(limits.vault_record_bytes_max);
    vault.put(metaOf("largest", largest), largest);
    expect(vault.get("largest").state).toBe("present");
    expectCode(() => vault.put({ ...metaOf("bad id!", plaintext) }, plaintext), "VAULT_RECORD_INVALID");
    expectCode(
      () => vault.put({ ...metaOf("r1", plaintext), patient: "did:key:nope" }, plaintext),
      "VAULT_RECORD_INVALID",
    );
    expectCode(
      () => vault.put({ ...metaOf("r1", plaintext), category: "gossip" as Category }, plaintext),
      "VAULT_RECORD_INVALID",
    );
    expectCode(
      () => vault.put({ ...metaOf("r1", plaintext), contentHash: new Uint8Array(31) }, plaintext),
      "VAULT_RECORD_INVALID",
    );
    expectCode(() => vault.get("x".repeat(129)), "VAULT_RECORD_INVALID");
    expectCode(() => vault.erase(""), "VAULT_RECORD_INVALID");
    vault.put(metaOf("r1", plaintext), plaintext);
    expectCode(() => vault.put(metaOf("r1", plaintext), plaintext), "VAULT_RECORD_EXISTS");
    vault.close();
  });

  it("answers erased after an erasure, refuses to put the record again, and is idempotent", () => {
    let clock = 1_000;
    const vault = Vault.open({ path: join(freshDir(), VAULT_DB_FILE), masterKey, now: () => clock });
    const plaintext = plaintextOf("erase", 200);
    vault.put(metaOf("r1", plaintext), plaintext);
    clock = 5_000;
    expect(vault.erase("r1")).toBe(true);
    expect(vault.get("r1")).toEqual({ state: "erased", erasedAt: 5_000 });
    clock = 9_000;
    expect(vault.erase("r1")).toBe(true);
    expect(vault.get("r1")).toEqual({ state: "erased", erasedAt: 5_000 });
    expectCode(() => vault.put(metaOf("r1", plaintext), plaintext), "VAULT_RECORD_EXISTS");
    expect(vault.erase("never-put")).toBe(false);
    expect(vault.get("never-put")).toEqual({ state: "absent" });
    expect(vault.discard("r1")).toBe(false);
    vault.close();
  });

  it("discards an unanchored record without a tombstone", () => {
    const vault = Vault.open({ path: join(freshDir(), VAULT_DB_FILE), masterKey });
    const plaintext = plaintextOf("discard", 200);
    vault.put(metaOf("r1", plaintext), plaintext);
    expect(vault.discard("r1")).toBe(true);
    expect(vault.get("r1")).toEqual({ state: "absent" });
    expect(vault.discard("r1")).toBe(false);
    vault.put(metaOf("r1", plaintext), plaintext);
    expect(vault.get("r1").state).toBe("present");
    vault.close();
  });

  it("refuses another kind of database", () => {
    const path = join(freshDir(), "chain.db");
    openChainDb({ path }).close();
    expectCode(() => Vault.open({ path, masterKey }), "STORAGE_CORRUPT");
    expectCode(() => Vault.open({ path: ":memory:", masterKey: new Uint8Array(31) }), "VAULT_KEY_INVALID");
  });
});

describe("vault authentication", () => {
  const plaintext = plaintextOf("tamper", 500);

  /** A closed vault file holding r1 and r2, and r1's stored row. */
  function vaultFile(): { path: string; row: StoredRow } {
    const path = join(freshDir(), VAULT_DB_FILE);
    const vault = Vault.open({ path, masterKey });
    vault.put(metaOf("r1", plaintext), plaintext);
    vault.put(metaOf("r2", plaintext, "genetics"), plaintext);
    vault.close();
    return { path, row: readRow(path, "r1") };
  }

  function flipped(bytes: Buffer, index: number): Buffer {
    const copy = Buffer.from(bytes);
    copy[index] = (copy[index] as number) ^ 0x01;
    return copy;
  }

  const tampers: Array<[string, (path: string, row: StoredRow) => void]> = [
    [
      "a ciphertext byte",
      (path, row) =>
        alter(path, "UPDATE records SET ciphertext = ? WHERE record = 'r1'", flipped(row.ciphertext, 10)),
    ],
    [
      "the GCM tag",
      (path, row) =>
        alter(
          path,
          "UPDATE records SET ciphertext = ? WHERE record = 'r1'",
          flipped(row.ciphertext, row.ciphertext.length - 1),
        ),
    ],
    [
      "a truncated ciphertext",
      (path, row) =>
        alter(path, "UPDATE records SET ciphertext = ? WHERE record = 'r1'", row.ciphertext.subarray(0, 8)),
    ],
    [
      "the IV",
      (path, row) => alter(path, "UPDATE records SET iv = ? WHERE record = 'r1'", flipped(row.iv, 0)),
    ],
    [
      "the wrapped key",
      (path, row) =>
        alter(path, "UPDATE records SET wrapped_key = ? WHERE record = 'r1'", flipped(row.wrapped_key, 20)),
    ],
    ["the category", (path) => alter(path, "UPDATE records SET category = 'allergies' WHERE record = 'r1'")],
    ["the patient", (path) => alter(path, "UPDATE records SET patient = ? WHERE record = 'r1'", did("pb"))],
    [
      "the content hash",
      (path) => alter(path, "UPDATE records SET content_hash = ? WHERE record = 'r1'", Buffer.alloc(32)),
    ],
    ["the format version", (path) => alter(path, "UPDATE records SET version = 2 WHERE record = 'r1'")],
    [
      "r2's sealed row moved under r1",
      (path) => {
        const other = readRow(path, "r2");
        alter(
          path,
          "UPDATE records SET wrapped_key = ?, iv = ?, ciphertext = ? WHERE record = 'r1'",
          other.wrapped_key,
          other.iv,
          other.ciphertext,
        );
      },
    ],
  ];

  for (const [what, tamper] of tampers) {
    it(`answers VAULT_CORRUPT when ${what} is altered, and still serves the other record`, () => {
      const { path, row } = vaultFile();
      tamper(path, row);
      const vault = Vault.open({ path, masterKey });
      expectCode(() => vault.get("r1"), "VAULT_CORRUPT");
      expect(vault.get("r2").state).toBe("present");
      vault.close();
    });
  }

  it("refuses to open with another master key, and a row wrapped under another master key is corrupt", () => {
    const { path } = vaultFile();
    expectCode(() => Vault.open({ path, masterKey: otherMasterKey }), "VAULT_KEY_INVALID");
    // The same record put in a vault of another master key, its sealed row copied into this vault.
    const otherPath = join(freshDir(), VAULT_DB_FILE);
    const other = Vault.open({ path: otherPath, masterKey: otherMasterKey });
    other.put(metaOf("r1", plaintext), plaintext);
    other.close();
    const foreign = readRow(otherPath, "r1");
    alter(
      path,
      "UPDATE records SET wrapped_key = ?, iv = ?, ciphertext = ? WHERE record = 'r1'",
      foreign.wrapped_key,
      foreign.iv,
      foreign.ciphertext,
    );
    const vault = Vault.open({ path, masterKey });
    expectCode(() => vault.get("r1"), "VAULT_CORRUPT");
    vault.close();
  });
});

describe("vault erasure scan", () => {
  /** 16-byte windows at the start, the middle and the end of `bytes`. */
  function windows(bytes: Uint8Array): Buffer[] {
    const buffer = Buffer.from(bytes);
    const middle = Math.floor((buffer.length - 16) / 2);
    return [0, middle, buffer.length - 16].map((offset) => buffer.subarray(offset, offset + 16));
  }

  /** The raw bytes of vault.db, vault.db-wal and vault.db-shm (empty when a file does not exist). */
  function rawFiles(path: string): Array<[string, Buffer]> {
    return ["", "-wal", "-shm"].map((suffix) => {
      const file = path + suffix;
      return [file, existsSync(file) ? readFileSync(file) : Buffer.alloc(0)];
    });
  }

  interface Remembered {
    record: string;
    plaintext: Uint8Array;
    row: StoredRow;
  }

  function expectNoneFound(path: string, erased: Remembered): void {
    for (const [file, raw] of rawFiles(path)) {
      for (const [what, bytes] of [
        ["plaintext", erased.plaintext],
        ["ciphertext", erased.row.ciphertext],
        ["wrapped key", erased.row.wrapped_key],
      ] as const) {
        for (const window of windows(bytes)) {
          expect(raw.indexOf(window), `${what} of ${erased.record} in ${file}`).toBe(-1);
        }
      }
    }
  }

  function expectFound(path: string, kept: Remembered): void {
    const all = Buffer.concat(rawFiles(path).map(([, raw]) => raw));
    for (const window of [...windows(kept.row.ciphertext), ...windows(kept.row.wrapped_key)]) {
      expect(all.indexOf(window), `ciphertext or wrapped key of kept ${kept.record}`).toBeGreaterThanOrEqual(
        0,
      );
    }
  }

  // Sizes: a cell inside one b-tree page, a record with a few overflow pages, one with hundreds.
  const sizes = [300, 20_000, 1_500_000];

  for (const erasedSize of sizes) {
    it(`leaves no byte of an erased ${erasedSize}-byte record in the database files, open or closed`, () => {
      const path = join(freshDir(), VAULT_DB_FILE);
      const vault = Vault.open({ path, masterKey });
      const remembered: Remembered[] = [];
      for (const [index, size] of [...sizes, erasedSize, ...sizes].entries()) {
        const record = `rec-${index}`;
        const plaintext = plaintextOf(record, size);
        vault.put(metaOf(record, plaintext), plaintext);
        remembered.push({ record, plaintext, row: readRow(path, record) });
      }
      const erased = remembered[sizes.length] as Remembered;
      const kept = remembered.filter((entry) => entry !== erased);
      // A checkpoint before the erasure puts the record's pages into vault.db itself, not only the WAL.
      const dummy = plaintextOf("dummy", 100);
      vault.put(metaOf("dummy", dummy), dummy);
      expect(vault.discard("dummy")).toBe(true);
      const extra = plaintextOf("extra", 5_000);
      vault.put(metaOf("extra", extra), extra);

      expect(vault.erase(erased.record)).toBe(true);
      expect(statSync(`${path}-wal`).size).toBe(0);
      expectNoneFound(path, erased);
      for (const entry of kept) expectFound(path, entry);

      // Later writes reuse the zeroed pages; the record must not reappear.
      const after = plaintextOf("after", 30_000);
      vault.put(metaOf("after", after), after);
      expectNoneFound(path, erased);
      vault.close();
      expectNoneFound(path, erased);
      for (const entry of kept) expectFound(path, entry);

      const reopened = Vault.open({ path, masterKey });
      expect(reopened.get(erased.record).state).toBe("erased");
      for (const entry of kept) {
        const found = reopened.get(entry.record);
        expect(
          found.state === "present" && Buffer.from(found.plaintext).equals(Buffer.from(entry.plaintext)),
        ).toBe(true);
      }
      reopened.close();
    });
  }

  it("answers VAULT_ERASE_INCOMPLETE while a reader holds the WAL, and a second erase finishes", () => {
    const path = join(freshDir(), VAULT_DB_FILE);
    const vault = Vault.open({ path, masterKey });
    const plaintext = plaintextOf("held", 20_000);
    vault.put(metaOf("held", plaintext), plaintext);
    const kept = plaintextOf("kept", 20_000);
    vault.put(metaOf("kept", kept), kept);
    const erased: Remembered = { record: "held", plaintext, row: readRow(path, "held") };
    const reader = new Database(path, { readonly: true });
    reader.exec("BEGIN");
    reader.prepare("SELECT count(*) FROM records").get(); // a read transaction on the current snapshot
    expectCode(() => vault.erase("held"), "VAULT_ERASE_INCOMPLETE");
    expect(vault.get("held").state).toBe("erased");
    reader.exec("COMMIT");
    reader.close();
    expect(vault.erase("held")).toBe(true);
    expectNoneFound(path, erased);
    vault.close();
    expectNoneFound(path, erased);
  });

  it("leaves nothing of records erased in a row, interleaved with puts", () => {
    const path = join(freshDir(), VAULT_DB_FILE);
    const vault = Vault.open({ path, masterKey });
    const all: Remembered[] = [];
    for (let index = 0; index < 40; index++) {
      const record = `mix-${index}`;
      const plaintext = plaintextOf(record, 200 + ((index * 7919) % 9000));
      vault.put(metaOf(record, plaintext), plaintext);
      all.push({ record, plaintext, row: readRow(path, record) });
      if (index % 3 === 2) vault.erase(`mix-${index - 1}`);
    }
    vault.close();
    for (const entry of all) {
      if (Number(entry.record.slice(4)) % 3 === 1) expectNoneFound(path, entry);
      else expectFound(path, entry);
    }
  });
});

describe("vault master key file", () => {
  it("creates the key with mode 0600 and reads the same key again", () => {
    const dir = freshDir();
    const key = loadOrCreateMasterKey(dir);
    expect(key.length).toBe(32);
    const file = join(dir, VAULT_KEY_FILE);
    if (process.platform !== "win32") expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(Buffer.from(loadOrCreateMasterKey(dir)).equals(Buffer.from(key))).toBe(true);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({
      version: 1,
      type: "aes-256-kw",
      key: Buffer.from(key).toString("hex"),
    });
    // The vault made with it opens again with the key read back.
    const path = join(dir, VAULT_DB_FILE);
    const plaintext = plaintextOf("keyfile", 100);
    const vault = Vault.open({ path, masterKey: key });
    vault.put(metaOf("r1", plaintext), plaintext);
    vault.close();
    const again = Vault.open({ path, masterKey: loadOrCreateMasterKey(dir) });
    expect(again.get("r1").state).toBe("present");
    again.close();
  });

  it("makes distinct keys in distinct directories", () => {
    const one = loadOrCreateMasterKey(freshDir());
    const two = loadOrCreateMasterKey(freshDir());
    expect(Buffer.from(one).equals(Buffer.from(two))).toBe(false);
  });

  const badFiles: Array<[string, string]> = [
    ["not JSON", "not json"],
    ["a short key", JSON.stringify({ version: 1, type: "aes-256-kw", key: "00".repeat(31) })],
    ["an uppercase key", JSON.stringify({ version: 1, type: "aes-256-kw", key: "AB".repeat(32) })],
    ["another version", JSON.stringify({ version: 2, type: "aes-256-kw", key: "00".repeat(32) })],
    ["an unknown field", JSON.stringify({ version: 1, type: "aes-256-kw", key: "00".repeat(32), extra: 1 })],
    ["an array", "[]"],
    ["an oversized file", " ".repeat(limits.vault_key_file_bytes_max + 1)],
  ];
  for (const [what, text] of badFiles) {
    it(`refuses a key file with ${what}`, () => {
      const dir = freshDir();
      writeFileSync(join(dir, VAULT_KEY_FILE), text, { mode: 0o600 });
      expectCode(() => loadOrCreateMasterKey(dir), "VAULT_KEY_INVALID");
    });
  }

  it.skipIf(process.platform === "win32")("refuses a key file others can read", () => {
    const dir = freshDir();
    loadOrCreateMasterKey(dir);
    chmodSync(join(dir, VAULT_KEY_FILE), 0o644);
    expectCode(() => loadOrCreateMasterKey(dir), "VAULT_KEY_INVALID");
  });
});
