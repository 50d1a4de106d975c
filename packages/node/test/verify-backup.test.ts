// Goal: verifyChain re-checks a real node's chain from its genesis and names the first bad height on
// any tampering; backupNode/restoreNode round-trip a data directory and refuse what they must.
// Method: one single-node chain built by startNode (a few committed transactions), then copies of its
// data directory altered byte by byte with SQL.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  decodeSignedTxWithId,
  type Genesis,
  publicKeyFromSecretKey,
  publicKeyToDid,
} from "@medledger/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backupNode, type ChainDb, openChainDb, restoreNode, startNode, verifyChain } from "../src/index.js";
import { encodedTx, secretOf, signerFor } from "./node-helpers.js";

const root = mkdtempSync(join(tmpdir(), "medledger-verify-"));
const source = join(root, "source");
const member = signerFor("verify-member");
const nodeSecret = secretOf("verify-node");
const genesis: Genesis = {
  chain: "test-verify",
  time: Date.now() - 1000,
  members: [{ member: member.did, nodes: [publicKeyToDid(publicKeyFromSecretKey(nodeSecret))] }],
};
let height = 0;

beforeAll(async () => {
  const node = await startNode({
    dataDir: source,
    genesis,
    nodeSecretKey: nodeSecret,
    tickMs: 20,
    api: { host: "127.0.0.1", port: 0 },
  });
  try {
    for (let index = 0; index < 4; index++) {
      const patient = signerFor(`verify-patient-${index}`);
      const encoded = encodedTx(genesis.chain, "patient.register", patient, {});
      node.ledger.submit(encoded);
      const { id } = decodeSignedTxWithId(encoded);
      await node.ledger.waitForTx(id, 10_000);
    }
    height = node.ledger.status().height;
  } finally {
    await node.stop();
  }
}, 30_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A restored copy of the source's chain.db, altered by `alter`. */
function tamperedCopy(name: string, alter: (db: ChainDb) => void): string {
  const dir = join(root, name);
  const path = join(dir, "chain.db");
  rmSync(dir, { recursive: true, force: true });
  restoreNode({ from: backupOf(name), dataDir: dir });
  const db = openChainDb({ path });
  alter(db);
  db.close();
  return path;
}

function run(sql: string, ...params: unknown[]): (db: ChainDb) => void {
  return (db) => db.sqlite.prepare(sql).run(...params);
}

function backupOf(name: string): string {
  return join(root, `${name}.backup`);
}

describe("verifyChain", () => {
  beforeAll(async () => {
    for (const name of ["encoded", "header", "result", "extra", "raft", "gap"]) {
      await backupNode({ dataDir: source, outFile: backupOf(name) });
    }
  });

  it("passes on the node's own database, from the genesis to its tip", () => {
    expect(height).toBeGreaterThanOrEqual(1);
    const report = verifyChain({ dbPath: join(source, "chain.db"), genesis });
    expect(report).toMatchObject({ ok: true, height, txs: 4 });
  });

  it("fails at height 0 with another genesis", () => {
    const report = verifyChain({ dbPath: join(source, "chain.db"), genesis: { ...genesis, time: 1 } });
    expect(report).toMatchObject({ ok: false, height: 0 });
  });

  it("names the height of a block whose stored encoding has one byte flipped", () => {
    const path = tamperedCopy("encoded", (db) => {
      const row = db.sqlite.prepare("SELECT encoded FROM blocks WHERE height = 1").get() as {
        encoded: Buffer;
      };
      const bytes = Buffer.from(row.encoded);
      const at = bytes.length - 40;
      bytes[at] = (bytes[at] ?? 0) ^ 0x01;
      db.sqlite.prepare("UPDATE blocks SET encoded = ? WHERE height = 1").run(bytes);
    });
    const report = verifyChain({ dbPath: path, genesis });
    expect(report.ok).toBe(false);
    expect(report.height).toBe(1);
  });

  it("names the height of a block whose stored header was replaced", () => {
    const path = tamperedCopy("header", (db) => {
      const row = db.sqlite.prepare("SELECT header FROM blocks WHERE height = ?").get(height) as {
        header: Buffer;
      };
      const bytes = Buffer.from(row.header);
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0x01;
      db.sqlite.prepare("UPDATE blocks SET header = ? WHERE height = ?").run(bytes, height);
    });
    const report = verifyChain({ dbPath: path, genesis });
    expect(report).toMatchObject({ ok: false, height });
    if (!report.ok) expect(report.problem).toContain(`block ${height}`);
  });

  it("names the height of a block whose transaction row was moved, and counts extra rows", () => {
    const moved = tamperedCopy("result", run("UPDATE txs SET tx_index = tx_index + 7 WHERE height = ?", 1));
    const report = verifyChain({ dbPath: moved, genesis });
    expect(report).toMatchObject({ ok: false, height: 1 });
    if (!report.ok) expect(report.problem).toContain("no transaction row locates transaction 0");
    const extra = tamperedCopy(
      "extra",
      run("INSERT INTO txs (id, height, tx_index) VALUES (zeroblob(32), 1, 9)"),
    );
    expect(verifyChain({ dbPath: extra, genesis })).toMatchObject({ ok: false, height });
  });

  it("fails when a Raft entry gave its bytes up to a block that is not stored", () => {
    const path = tamperedCopy(
      "raft",
      run(
        `UPDATE raft_entries SET data = NULL WHERE type = 0 AND idx NOT IN (SELECT raft_index FROM blocks)`,
      ),
    );
    const report = verifyChain({ dbPath: path, genesis });
    expect(report).toMatchObject({ ok: false, height });
    if (!report.ok) expect(report.problem).toMatch(/Raft entry \d+ has no bytes/);
  });

  it("names a missing block", () => {
    const path = tamperedCopy("gap", (db) => {
      db.sqlite.prepare("DELETE FROM txs WHERE height = 2").run();
      db.sqlite.prepare("DELETE FROM blocks WHERE height = 2").run();
    });
    expect(height).toBeGreaterThanOrEqual(3);
    expect(verifyChain({ dbPath: path, genesis })).toMatchObject({ ok: false, height: 2 });
  });
});

describe("backupNode and restoreNode", () => {
  it("round-trip the databases and the small files, with the chain tip in the manifest", async () => {
    const out = join(root, "round-trip.backup");
    const manifest = await backupNode({ dataDir: source, outFile: out });
    expect(manifest.tip.height).toBe(height);
    expect(manifest.files.map((file) => file.name)).toEqual(
      expect.arrayContaining(["chain.db", "vault.db", "vault.key", "admin.token"]),
    );
    const target = join(root, "restored");
    const restored = restoreNode({ from: out, dataDir: target });
    expect(restored.tip).toEqual(manifest.tip);
    expect(verifyChain({ dbPath: join(target, "chain.db"), genesis })).toMatchObject({ ok: true, height });
    expect(existsSync(join(target, "vault.key"))).toBe(true);
  });

  it("refuses a non-empty target unless forced", async () => {
    const out = join(root, "force.backup");
    await backupNode({ dataDir: source, outFile: out });
    const target = join(root, "occupied");
    restoreNode({ from: out, dataDir: target });
    expect(() => restoreNode({ from: out, dataDir: target })).toThrow(
      expect.objectContaining({ code: "NOT_EMPTY" }),
    );
    expect(restoreNode({ from: out, dataDir: target, force: true }).tip.height).toBe(height);
  });

  it("rejects an archive whose content does not match its manifest", async () => {
    const out = join(root, "damaged.backup");
    await backupNode({ dataDir: source, outFile: out });
    const damaged = join(root, "damaged-copy.backup");
    const bytes = readFileSync(out);
    const at = bytes.indexOf("SQLite format 3") + 200; // inside chain.db's first page
    bytes[at] = (bytes[at] ?? 0) ^ 0xff;
    writeFileSync(damaged, bytes);
    expect(() => restoreNode({ from: damaged, dataDir: join(root, "never") })).toThrow(
      expect.objectContaining({ code: "STORAGE_CORRUPT" }),
    );
  });
});
