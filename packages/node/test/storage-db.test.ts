// Goal: the chain database opens with the durable settings, migrates by dense numbered migrations
// that are never rewritten, applies committed blocks exactly once and all-or-nothing, serves blocks and
// transactions, and exports/imports its state so that a new node answers identically. Method: real
// files in a temporary directory, blocks built by the rules through the test chain fixture.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyBlock, bytesEqual, encodeBlock, type StateStore, toHex } from "@medledger/protocol";
import { afterAll, describe, expect, it } from "vitest";
import { did } from "../../protocol/test/rules-fixtures.js";
import { type ChainDb, MIGRATIONS, openChainDb } from "../src/storage/index.js";
import { accessTxs, buildBlock, clinicTxs, commitBlock, genesisInto } from "./fixtures/storage-chain.js";

const dir = mkdtempSync(join(tmpdir(), "medledger-db-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;
const fresh = () => join(dir, `chain-${counter++}.db`);

/** A database with genesis, the clinic setup and `blocks` blocks of `perBlock` access logs. */
function chainOf(path: string, blocks: number, perBlock: number): ChainDb {
  const db = openChainDb({ path });
  genesisInto(db);
  let raftIndex = 1;
  for (const txs of clinicTxs(db.state.getChain()?.time ?? 0))
    commitBlock(db, txs, { raftIndex: raftIndex++ });
  for (let i = 0; i < blocks; i++) {
    const time = (db.state.getChain()?.time ?? 0) + 1000;
    commitBlock(db, accessTxs(time, perBlock, 1000 * i), { raftIndex: raftIndex++ });
  }
  return db;
}

/** Everything a client could ask the state about the clinic's actors. */
function answers(store: StateStore): unknown {
  const patient = did("pa");
  const all = <T>(fetch: (after?: { height: number; txIndex: number }) => { items: T[]; next: unknown }) => {
    const out: T[] = [];
    let page = fetch();
    out.push(...page.items);
    while (page.next !== null) {
      page = fetch(page.next as { height: number; txIndex: number });
      out.push(...page.items);
    }
    return out;
  };
  return {
    chain: store.getChain(),
    members: store.listMembers(),
    provider: store.getIdentity(did("p0")),
    patient: store.getPatient(patient),
    audit: all((after) =>
      store.auditOfPatient(patient, after === undefined ? { limit: 7 } : { after, limit: 7 }),
    ),
    consents: all((after) =>
      store.consentsOfPatient(patient, after === undefined ? { limit: 2 } : { after, limit: 2 }),
    ),
  };
}

describe("openChainDb", () => {
  it("opens in WAL mode with synchronous=FULL, foreign keys and a busy timeout", () => {
    const db = openChainDb({ path: fresh() });
    expect(db.sqlite.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.sqlite.pragma("synchronous", { simple: true })).toBe(2);
    expect(db.sqlite.pragma("foreign_keys", { simple: true })).toBe(1);
    expect(db.sqlite.pragma("busy_timeout", { simple: true })).toBeGreaterThan(0);
    expect(db.sqlite.pragma("journal_size_limit", { simple: true })).toBe(64 * 1024 * 1024);
    db.close();
    db.close(); // idempotent
    expect(() => db.blocks.tip()).toThrow();
    expect(() => db.exportState()).toThrow(expect.objectContaining({ code: "STORAGE_CLOSED" }));
  });

  it("numbers migrations densely from 1 and records each applied one with its hash", () => {
    expect(MIGRATIONS.map(([number]) => number)).toEqual(MIGRATIONS.map((_m, index) => index + 1));
    const path = fresh();
    const db = openChainDb({ path });
    const rows = db.sqlite
      .prepare("SELECT number, length(sql_hash) AS bytes FROM migrations ORDER BY number")
      .all();
    expect(rows).toEqual(MIGRATIONS.map(([number]) => ({ number, bytes: 32 })));
    expect(db.migrations()).toEqual(MIGRATIONS.map(([number]) => number));
    db.close();
    const again = openChainDb({ path }); // reopening applies nothing twice
    expect(again.sqlite.prepare("SELECT count(*) AS n FROM migrations").get()).toEqual({
      n: MIGRATIONS.length,
    });
    again.close();
  });

  it("refuses a database whose applied migration was rewritten, or that is newer than the code", () => {
    const rewritten = fresh();
    const db = openChainDb({ path: rewritten });
    db.sqlite.prepare("UPDATE migrations SET sql_hash = zeroblob(32) WHERE number = 2").run();
    db.close();
    expect(() => openChainDb({ path: rewritten })).toThrow(
      expect.objectContaining({ code: "MIGRATION_FAILED" }),
    );
    const newer = fresh();
    const db2 = openChainDb({ path: newer });
    db2.sqlite.prepare("INSERT INTO migrations VALUES (999, zeroblob(32), 0)").run();
    db2.close();
    expect(() => openChainDb({ path: newer })).toThrow(expect.objectContaining({ code: "MIGRATION_FAILED" }));
  });

  it("refuses files that are not chain databases with STORAGE_CORRUPT", () => {
    const garbage = fresh();
    writeFileSync(garbage, Buffer.alloc(8192, 7));
    expect(() => openChainDb({ path: garbage })).toThrow(
      expect.objectContaining({ code: "STORAGE_CORRUPT" }),
    );
    const foreign = fresh();
    const db = openChainDb({ path: ":memory:" });
    db.close();
    const other = openChainDb({ path: foreign });
    other.sqlite.pragma("application_id = 42");
    other.close();
    expect(() => openChainDb({ path: foreign })).toThrow(
      expect.objectContaining({ code: "STORAGE_CORRUPT" }),
    );
  });

  it("opens read-only: reads work, writes fail with STORAGE_READONLY", () => {
    const path = fresh();
    chainOf(path, 2, 3).close();
    const db = openChainDb({ path, readonly: true });
    expect(db.blocks.tip()?.height).toBe(4);
    expect(() => db.blocks.markApplied(100)).toThrow(expect.objectContaining({ code: "STORAGE_READONLY" }));
    db.close();
    expect(() => openChainDb({ path: fresh(), readonly: true })).toThrow(
      expect.objectContaining({ code: "STORAGE_IO" }),
    );
  });

  it("checks integrity and makes an online backup that opens with the same tip", async () => {
    const db = chainOf(fresh(), 3, 5);
    expect(db.integrityCheck()).toEqual({ ok: true, problems: [] });
    const copy = fresh();
    await db.backup(copy);
    const restored = openChainDb({ path: copy });
    expect(restored.blocks.tip()).toEqual(db.blocks.tip());
    expect(answers(restored.state)).toEqual(answers(db.state));
    expect(restored.integrityCheck().ok).toBe(true);
    restored.close();
    db.close();
  });
});

describe("blocks and exactly-once apply", () => {
  it("stores blocks and transactions with results, and serves them by height, hash, range and id", () => {
    const db = chainOf(fresh(), 3, 4);
    const tip = db.blocks.tip();
    expect(tip?.height).toBe(5);
    expect(tip?.appliedIndex).toBe(5);
    expect(tip?.appHash).toEqual(db.state.getChain()?.appHash);
    const stored = db.blocks.blockAt(5);
    expect(stored).not.toBeNull();
    expect(stored?.hash).toEqual(tip?.blockHash);
    expect(stored?.encoded).toEqual(encodeBlock(stored!.block));
    expect(db.blocks.blockByHash(tip?.blockHash ?? new Uint8Array(32))?.block.header.height).toBe(5);
    expect(db.blocks.blockAt(6)).toBeNull();
    expect(db.blocks.blockRange(2, 4).map((b) => b.block.header.height)).toEqual([2, 3, 4]);
    expect(db.blocks.blockRange(0, 1000).length).toBe(5);
    const block = stored?.block;
    const first = block?.txs[0];
    expect(first).toBeDefined();
    const id = (db.state.auditOfPatient(did("pa"), { limit: 500 }).items.at(-1)?.tx ??
      new Uint8Array(32)) as Uint8Array;
    const tx = db.blocks.tx(id);
    expect(tx?.height).toBe(5);
    expect(tx?.txIndex).toBe(3);
    expect(tx?.result).toEqual(block?.results[3]);
    expect(tx?.signed).toEqual(block?.txs[3]);
    expect(db.blocks.tx(new Uint8Array(32))).toBeNull();
    db.close();
  });

  it("skips a block at or below the applied Raft index, refuses one that does not follow the tip", () => {
    const db = chainOf(fresh(), 1, 1);
    const tip = db.blocks.tip();
    if (tip === null) throw new Error("no tip");
    const time = (db.state.getChain()?.time ?? 0) + 1000;
    const txs = accessTxs(time, 2, 50_000);
    const block = buildBlock(db, txs, { raftIndex: 9 });
    const apply = (store: StateStore) =>
      applyBlock(store, {
        chain: "test-chain",
        height: block.header.height,
        time: block.header.time,
        prevAppHash: tip.appHash,
        txs,
      });
    const input = { block, encoded: encodeBlock(block), raftIndex: tip.appliedIndex, apply };
    expect(db.blocks.applyCommittedBlock(input)).toEqual({ applied: false });
    expect(db.blocks.tip()).toEqual(tip);
    const wrong = { ...block, header: { ...block.header, height: block.header.height + 1 } };
    expect(() => db.blocks.applyCommittedBlock({ ...input, block: wrong, raftIndex: 9 })).toThrow(
      expect.objectContaining({ code: "BLOCK_NOT_NEXT" }),
    );
    const outcome = db.blocks.applyCommittedBlock({ ...input, raftIndex: 9 });
    expect(outcome.applied).toBe(true);
    expect(db.blocks.applyCommittedBlock({ ...input, raftIndex: 9 })).toEqual({ applied: false });
    expect(db.blocks.tip()?.appliedIndex).toBe(9);
    db.blocks.markApplied(12);
    db.blocks.markApplied(10); // never goes back
    expect(db.blocks.tip()?.appliedIndex).toBe(12);
    db.close();
  });

  it("rolls everything back when the rules throw or give another app hash", () => {
    const db = chainOf(fresh(), 1, 1);
    const tip = db.blocks.tip();
    if (tip === null) throw new Error("no tip");
    const before = answers(db.state);
    const time = (db.state.getChain()?.time ?? 0) + 1000;
    const txs = accessTxs(time, 3, 60_000);
    const block = buildBlock(db, txs, { raftIndex: 20 });
    const run = (store: StateStore) =>
      applyBlock(store, {
        chain: "test-chain",
        height: block.header.height,
        time: block.header.time,
        prevAppHash: tip.appHash,
        txs,
      });
    const encoded = encodeBlock(block);
    expect(() =>
      db.blocks.applyCommittedBlock({
        block,
        encoded,
        raftIndex: 20,
        apply: (store) => {
          run(store);
          throw new Error("crash in the middle");
        },
      }),
    ).toThrow("crash in the middle");
    const forged = { ...block, header: { ...block.header, appHash: new Uint8Array(32).fill(1) } };
    expect(() =>
      db.blocks.applyCommittedBlock({ block: forged, encoded, raftIndex: 20, apply: run }),
    ).toThrow(expect.objectContaining({ code: "APP_HASH_MISMATCH" }));
    expect(answers(db.state)).toEqual(before);
    expect(db.blocks.tip()).toEqual(tip);
    expect(db.blocks.blockAt(block.header.height)).toBeNull();
    db.close();
  });

  it("refuses a second genesis with NOT_EMPTY", () => {
    const db = chainOf(":memory:", 0, 0);
    expect(() => genesisInto(db)).toThrow(expect.objectContaining({ code: "NOT_EMPTY" }));
    db.close();
  });
});

describe("state export and import", () => {
  it("moves the state in bounded chunks; the new database answers identically at the same tip", () => {
    const source = chainOf(fresh(), 30, 40); // 1,200 audit rows
    const exported = source.exportState({ chunkBytes: 1 }); // clamped to the minimum chunk size
    const chunks = [...exported];
    exported.close();
    expect(chunks.length).toBeGreaterThan(3);
    for (const chunk of chunks) expect(chunk.byteLength).toBeLessThanOrEqual(64 * 1024 + 4096);
    const target = openChainDb({ path: fresh() });
    const tip = source.blocks.tip();
    if (tip === null) throw new Error("no tip");
    expect(target.importState(chunks, tip)).toEqual(tip);
    expect(target.blocks.tip()).toEqual(tip);
    expect(answers(target.state)).toEqual(answers(source.state));
    expect(target.integrityCheck().ok).toBe(true);
    // The imported node goes on applying blocks, like the source.
    const time = (source.state.getChain()?.time ?? 0) + 1000;
    const txs = accessTxs(time, 3, 90_000);
    const a = commitBlock(source, txs, { raftIndex: 100 });
    const b = commitBlock(target, txs, { raftIndex: 100 });
    expect(toHex(b.header.appHash)).toBe(toHex(a.header.appHash));
    expect(answers(target.state)).toEqual(answers(source.state));
    expect(() => target.importState(chunks)).toThrow(expect.objectContaining({ code: "NOT_EMPTY" }));
    source.close();
    target.close();
  });

  it("exports a consistent state while blocks keep being applied", () => {
    const source = chainOf(fresh(), 5, 20);
    const tip = source.blocks.tip();
    const before = answers(source.state);
    const exported = source.exportState({ chunkBytes: 64 * 1024 });
    const first = exported.next();
    const time = (source.state.getChain()?.time ?? 0) + 1000;
    commitBlock(source, accessTxs(time, 50, 70_000), { raftIndex: 50 });
    const rest = [...exported];
    exported.close();
    const target = openChainDb({ path: ":memory:" });
    target.importState([first ?? new Uint8Array(0), ...rest]);
    expect(target.blocks.tip()).toEqual(tip);
    expect(answers(target.state)).toEqual(before);
    source.close();
    target.close();
  });

  it("refuses damaged, reordered, incomplete or unexpected chunks, importing nothing", () => {
    const source = chainOf(":memory:", 25, 40);
    const exported = source.exportState({ chunkBytes: 64 * 1024 });
    const chunks = [...exported];
    exported.close();
    expect(chunks.length).toBeGreaterThan(1);
    const tip = source.blocks.tip();
    if (tip === null) throw new Error("no tip");
    const damaged = (chunks[0] ?? new Uint8Array(0)).slice(0, -5);
    const cases: Uint8Array[][] = [
      chunks.slice(0, -1),
      [...chunks].reverse(),
      [damaged, ...chunks.slice(1)],
      [new Uint8Array([0xa0]), ...chunks],
    ];
    for (const bad of cases) {
      const target = openChainDb({ path: ":memory:" });
      expect(() => target.importState(bad)).toThrow(expect.objectContaining({ code: "STATE_CHUNK_INVALID" }));
      expect(target.blocks.tip()).toBeNull();
      expect(target.state.getChain()).toBeNull();
      target.close();
    }
    const target = openChainDb({ path: ":memory:" });
    const otherTip = { ...tip, appliedIndex: tip.appliedIndex + 1 };
    expect(() => target.importState(chunks, otherTip)).toThrow(
      expect.objectContaining({ code: "STATE_CHUNK_INVALID" }),
    );
    expect(bytesEqual(target.importState(chunks, tip).appHash, tip.appHash)).toBe(true);
    target.close();
    source.close();
  });
});
