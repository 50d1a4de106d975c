// Goal: SqliteRaftStorage behaves exactly like the consensus package's MemoryStorage, across restarts,
// with a tail cache of any size, and persist() writes a Ready all or nothing. Method: fast-check runs
// the same random operation sequences against both and compares every read (values or error codes),
// reopening the database file at random points; small caches force reads through SQLite.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  bootstrapSnapshot,
  type ConfState,
  type Entry,
  type HardState,
  MemoryStorage,
  type Snapshot,
  type Storage,
} from "@medledger/consensus";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { type ChainDb, openChainDb, type SqliteRaftStorage } from "../src/storage/index.js";

const dir = mkdtempSync(join(tmpdir(), "medledger-raft-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CONF: ConfState = { voters: ["a", "b", "c"], learners: [] };
let fileCounter = 0;

type Op =
  | { op: "append"; from: number; terms: number[]; sizes: number[] }
  | { op: "hardState"; term: number; vote: string; commit: number }
  | { op: "persist"; from: number; terms: number[]; term: number; snapshotAt: number | null }
  | { op: "applySnapshot"; at: number; term: number; voters: string[] }
  | { op: "createSnapshot"; at: number; data: number }
  | { op: "reopen" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant("append" as const),
      from: fc.integer({ min: -3, max: 2 }),
      terms: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 0, maxLength: 8 }),
      sizes: fc.array(fc.nat(300), { minLength: 8, maxLength: 8 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("hardState" as const),
      term: fc.nat(9),
      vote: fc.constantFrom("", "a", "b"),
      commit: fc.nat(40),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("persist" as const),
      from: fc.integer({ min: -3, max: 1 }),
      terms: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 5 }),
      term: fc.nat(9),
      snapshotAt: fc.option(fc.integer({ min: -2, max: 12 }), { freq: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("applySnapshot" as const),
      at: fc.integer({ min: -2, max: 10 }),
      term: fc.nat(9),
      voters: fc.subarray(["a", "b", "c", "d"], { minLength: 1 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("createSnapshot" as const),
      at: fc.integer({ min: -3, max: 4 }),
      data: fc.nat(50),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ op: "reopen" as const }) },
);

/** Entries from `first`, with terms relative to the last term so that logs look like Raft's. */
function makeEntries(storage: Storage, first: number, terms: number[], sizes: number[] = []): Entry[] {
  let term = safe(() => storage.term(storage.lastIndex())) as number;
  return terms.map((delta, i) => {
    term = (typeof term === "number" ? term : 0) + delta;
    const data = new Uint8Array(sizes[i] ?? 3).fill((first + i) % 251);
    return { index: first + i, term, type: i % 5 === 4 ? "confChange" : "normal", data };
  });
}

/** A value, or the error code it threw. */
function safe<T>(fn: () => T): T | { error: string } {
  try {
    return fn();
  } catch (error) {
    return { error: (error as { code?: string }).code ?? String(error) };
  }
}

/** Every read of the Storage port, over a window of indexes around the log. */
function observe(storage: Storage, limits: number[]): unknown {
  const first = storage.firstIndex();
  const last = storage.lastIndex();
  const terms: unknown[] = [];
  for (let i = first - 2; i <= last + 1; i++) terms.push(safe(() => storage.term(i)));
  const ranges: unknown[] = [];
  for (const [k, maxBytes] of limits.entries()) {
    const lo = first - 1 + (k % 3);
    const hi = Math.min(last + 2, lo + (maxBytes % 7));
    ranges.push(safe(() => storage.entries(lo, hi, maxBytes)));
  }
  ranges.push(safe(() => storage.entries(first, last + 1, Number.MAX_SAFE_INTEGER)));
  return { first, last, initial: storage.initialState(), snapshot: storage.snapshot(), terms, ranges };
}

class Pair {
  memory: MemoryStorage;
  db: ChainDb;
  sqlite: SqliteRaftStorage;
  private readonly path: string;

  constructor(
    bootstrap: Snapshot,
    private readonly cache: { cacheEntriesMax: number; cacheBytesMax: number },
  ) {
    this.path = join(dir, `raft-${fileCounter++}.db`);
    this.memory = new MemoryStorage(bootstrap);
    this.db = openChainDb({ path: this.path });
    this.sqlite = this.db.raftStorage({ bootstrap, ...cache });
  }

  reopen(): void {
    this.db.close();
    this.db = openChainDb({ path: this.path });
    // A different bootstrap is ignored: the stored snapshot wins.
    this.sqlite = this.db.raftStorage({
      bootstrap: bootstrapSnapshot({ voters: ["zz"], learners: [] }),
      ...this.cache,
    });
  }

  run(op: Op): void {
    const both = (fn: (storage: MemoryStorage | SqliteRaftStorage) => unknown) => {
      const a = safe(() => fn(this.memory));
      const b = safe(() => fn(this.sqlite));
      expect(b).toEqual(a);
    };
    switch (op.op) {
      case "append": {
        const entries = makeEntries(this.memory, this.memory.lastIndex() + op.from, op.terms, op.sizes);
        both((s) => s.append(entries));
        return;
      }
      case "hardState": {
        const hardState: HardState = { term: op.term, vote: op.vote, commit: op.commit };
        both((s) => s.setHardState(hardState));
        return;
      }
      case "persist":
        this.persist(op);
        return;
      case "applySnapshot": {
        const snapshot = this.snapshotAt(this.memory.snapshot().metadata.index + op.at, op.term, op.voters);
        both((s) => s.applySnapshot(snapshot));
        return;
      }
      case "createSnapshot": {
        const index = this.memory.lastIndex() + op.at;
        const data = new Uint8Array(op.data).fill(7);
        both((s) => s.createSnapshot(index, CONF, data));
        return;
      }
      case "reopen":
        this.reopen();
    }
  }

  /** One Ready: the memory storage applies its parts in the RawNode order, SQLite in one transaction. */
  private persist(op: Extract<Op, { op: "persist" }>): void {
    const snapshot =
      op.snapshotAt === null
        ? null
        : this.snapshotAt(this.memory.snapshot().metadata.index + op.snapshotAt, op.term, ["a"]);
    const base = snapshot === null ? this.memory.lastIndex() : snapshot.metadata.index;
    const entries = makeEntries(this.memory, base + 1 + op.from, op.terms);
    const hardState: HardState = { term: op.term, vote: "a", commit: base };
    const before = observe(this.memory, []);
    const a = safe(() => {
      if (snapshot !== null) this.memory.applySnapshot(snapshot);
      this.memory.append(entries);
      this.memory.setHardState(hardState);
    });
    const b = safe(() => this.sqlite.persist({ snapshot, entries, hardState }));
    expect(b).toEqual(a);
    if (typeof a === "object" && a !== null && "error" in a) {
      // MemoryStorage may have applied a prefix of the Ready; SQLite wrote nothing: compare with before.
      expect(observe(this.sqlite, [])).toEqual(before);
      this.resyncMemory();
    }
  }

  private resyncMemory(): void {
    // Rebuild the memory storage from the (unchanged) SQLite view so the two agree again.
    const memory = new MemoryStorage(this.sqlite.snapshot());
    const first = this.sqlite.firstIndex();
    const last = this.sqlite.lastIndex();
    if (last >= first) memory.append(this.sqlite.entries(first, last + 1, Number.MAX_SAFE_INTEGER));
    memory.setHardState(this.sqlite.initialState().hardState);
    this.memory = memory;
  }

  private snapshotAt(index: number, term: number, voters: string[]): Snapshot {
    return {
      metadata: { index, term, confState: { voters, learners: [] } },
      data: new Uint8Array([index & 255]),
    };
  }
}

describe("SqliteRaftStorage conformance with MemoryStorage", () => {
  const limitsArb = fc.array(fc.integer({ min: 0, max: 2000 }), { minLength: 3, maxLength: 3 });

  for (const cache of [
    { name: "default cache", cacheEntriesMax: 4096, cacheBytesMax: 64 * 1024 * 1024 },
    { name: "tiny cache", cacheEntriesMax: 2, cacheBytesMax: 200 },
  ]) {
    it(`answers every read like MemoryStorage over random operations, reopening (${cache.name})`, () => {
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), limitsArb, (ops, limits) => {
          const pair = new Pair(bootstrapSnapshot(CONF), cache);
          try {
            for (const op of ops) {
              pair.run(op);
              expect(observe(pair.sqlite, limits)).toEqual(observe(pair.memory, limits));
            }
            pair.reopen();
            expect(observe(pair.sqlite, limits)).toEqual(observe(pair.memory, limits));
          } finally {
            pair.db.close();
          }
        }),
        { numRuns: 60, seed: 4242 },
      );
    });
  }

  it("starts from a non-empty snapshot like MemoryStorage", () => {
    const snapshot: Snapshot = {
      metadata: { index: 10, term: 3, confState: CONF },
      data: new Uint8Array([1, 2]),
    };
    const pair = new Pair(snapshot, { cacheEntriesMax: 8, cacheBytesMax: 1024 });
    pair.run({ op: "append", from: 1, terms: [0, 0, 1], sizes: [1, 2, 3, 4, 5, 6, 7, 8] });
    expect(observe(pair.sqlite, [10, 100])).toEqual(observe(pair.memory, [10, 100]));
    expect(pair.sqlite.term(10)).toBe(3);
    pair.db.close();
  });
});

describe("SqliteRaftStorage.persist", () => {
  it("writes nothing when any part of the Ready is refused", () => {
    const pair = new Pair(bootstrapSnapshot(CONF), { cacheEntriesMax: 8, cacheBytesMax: 1024 });
    pair.run({ op: "append", from: 1, terms: [1, 0, 0], sizes: [1, 1, 1, 1, 1, 1, 1, 1] });
    pair.sqlite.createSnapshot(2, CONF, new Uint8Array([9]));
    const before = observe(pair.sqlite, []);
    const stale: Snapshot = { metadata: { index: 1, term: 1, confState: CONF }, data: new Uint8Array(0) };
    const entries: Entry[] = [{ index: 4, term: 1, type: "normal", data: new Uint8Array(1) }];
    expect(() =>
      pair.sqlite.persist({ snapshot: stale, entries, hardState: { term: 5, vote: "a", commit: 3 } }),
    ).toThrow(expect.objectContaining({ code: "SNAPSHOT_OUT_OF_DATE" }));
    const gap: Entry[] = [{ index: 9, term: 1, type: "normal", data: new Uint8Array(1) }];
    expect(() => pair.sqlite.persist({ entries: gap, hardState: { term: 5, vote: "a", commit: 3 } })).toThrow(
      expect.objectContaining({ code: "INVARIANT" }),
    );
    pair.reopen();
    expect(observe(pair.sqlite, [])).toEqual(before);
    pair.db.close();
  });

  it("maps a full disk to STORAGE_FULL and keeps its view equal to the disk", () => {
    const pair = new Pair(bootstrapSnapshot(CONF), { cacheEntriesMax: 8, cacheBytesMax: 1024 });
    pair.run({ op: "append", from: 1, terms: [1], sizes: [1, 1, 1, 1, 1, 1, 1, 1] });
    const pages = pair.db.sqlite.pragma("page_count", { simple: true }) as number;
    pair.db.sqlite.pragma(`max_page_count = ${pages}`);
    const big: Entry[] = [{ index: 2, term: 1, type: "normal", data: new Uint8Array(64 * 1024) }];
    expect(() => pair.sqlite.persist({ entries: big, hardState: { term: 1, vote: "", commit: 1 } })).toThrow(
      expect.objectContaining({ code: "STORAGE_FULL" }),
    );
    expect(pair.sqlite.lastIndex()).toBe(1);
    expect(pair.sqlite.initialState().hardState).toEqual({ term: 0, vote: "", commit: 0 });
    pair.reopen();
    expect(pair.sqlite.lastIndex()).toBe(1);
    pair.db.close();
  });
});
