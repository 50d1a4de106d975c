// Goal: the SQLite LedgerStore commits blocks as the ledger node hands them over (with the
// transactions' encodings and the header hash, or without) and answers exactly like the memory
// store: the tip it keeps after a commit is the tip it reads back after a reopen, blocks keep their
// exact bytes (stored once, compressed) and committed transactions their exact encodings and results
// (sliced from the block); the Raft log reads exactly like MemoryStorage although applied entries give
// their bytes up to the stored block, and entries a new leader overwrites keep theirs. Method: the same
// blocks (real rules, canonical encodings, fixture signatures) committed into a MemoryLedgerStore and
// a SqliteLedgerStore over a file, every answer compared, the file reopened with a tiny Raft cache.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryStorage, type Storage } from "@medledger/consensus";
import {
  applyBlock,
  type Block,
  type BlockHeader,
  blockHash,
  computeResultRoot,
  computeTxRoot,
  encodeBlock,
  encodeSignedTx,
  encodeTxResult,
  type Genesis,
  type SignedTx,
  type StateStore,
  type TxResult,
  toHex,
} from "@medledger/protocol";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { CHAIN, did, genesisOf, hashOf, makeTx, T0, type Tx } from "../../protocol/test/rules-fixtures.js";
import { SqliteLedgerStore } from "../src/ledger/sqlite-store.js";
import { type LedgerStore, MemoryLedgerStore, type ReadyPersist } from "../src/ledger/store.js";
import { blockLayout, CODEC_BROTLI, CODEC_NONE, packBody, unpackBody } from "../src/storage/block-body.js";
import { migrationHash } from "../src/storage/db.js";
import { CHAIN_DB_APPLICATION_ID, MIGRATIONS, openChainDb } from "../src/storage/index.js";
import { STATE_TABLES } from "../src/storage/state-sync.js";

const dir = mkdtempSync(join(tmpdir(), "medledger-ledger-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;
const fresh = () => join(dir, `chain-${counter++}.db`);

/** What a test chain commits: the block, its bytes and the transactions. */
interface Committed {
  block: Block;
  encoded: Uint8Array;
  txs: Tx[];
  raftIndex: number;
}

/**
 * Builds the next block of `txs` on `store` (a dry run, as a leader), persists it as the next Raft
 * entry and commits it, passing the encodings and hash as the ledger node does when `parts` is set.
 */
function commitNext(store: LedgerStore, txs: Tx[], parts: boolean): Committed {
  const tip = store.tip();
  const time = tip.time + 1000;
  const raftIndex = store.raft.lastIndex() + 1;
  const input = { chain: CHAIN, height: tip.height + 1, time, prevAppHash: tip.appHash, txs };
  const outcome = store.dryRun((state) => applyBlock(state, input));
  const header: BlockHeader = {
    v: 1,
    chain: CHAIN,
    height: tip.height + 1,
    prev: tip.hash,
    time,
    proposer: did("m0-node"),
    txRoot: computeTxRoot(txs.map((tx) => tx.signed)),
    resultRoot: computeResultRoot(outcome.results),
    appHash: outcome.appHash,
    raftTerm: 1,
    raftIndex,
  };
  const block: Block = {
    header,
    sig: new Uint8Array(64),
    txs: txs.map((tx) => tx.signed),
    results: outcome.results,
  };
  const encoded = encodeBlock(block);
  store.persistRaft({
    hardState: { term: 1, vote: "", commit: raftIndex },
    entries: [{ index: raftIndex, term: 1, type: "normal", data: encoded }],
    snapshot: null,
  });
  store.commitBlock({
    block,
    encoded,
    ids: txs.map((tx) => tx.id),
    raftIndex,
    ...(parts ? { txEncodings: txs.map((tx) => encodeSignedTx(tx.signed)), hash: blockHash(header) } : {}),
    apply: (state) => applyBlock(state, input),
  });
  return { block, encoded, txs, raftIndex };
}

/** The clinic (a provider, a patient, a consent) then `blocks` blocks of `perBlock` access logs. */
function clinicChain(
  genesis: Genesis,
  blocks: number,
  perBlock: number,
): (store: LedgerStore) => Committed[] {
  const time = genesis.time;
  const setup: Tx[][] = [
    [
      makeTx(time, "provider.register", did("m0"), { provider: did("p0"), licenseHash: new Uint8Array(32) }),
      makeTx(time, "patient.register", did("pa"), {}),
      makeTx(time, "patient.register", did("pb"), {}),
    ],
    [
      makeTx(time, "consent.grant", did("pa"), {
        grantee: did("p0"),
        categories: ["labs"],
        records: [],
        purposes: ["TREAT"],
        notBefore: time,
        expires: time + 365 * 24 * 3_600_000,
      }),
    ],
  ];
  const access: Tx[][] = Array.from({ length: blocks }, (_, b) =>
    Array.from({ length: perBlock }, (_, i) =>
      makeTx(
        time + (b + 3) * 1000,
        "access.log",
        did("p0"),
        {
          patient: did(i % 3 === 0 ? "pb" : "pa"),
          category: i % 2 === 0 ? "labs" : "allergies",
          purpose: "TREAT",
        },
        { nonce: 1_000_000 + b * 1000 + i },
      ),
    ),
  );
  return (store) => [...setup, ...access].map((txs, index) => commitNext(store, txs, index % 2 === 0));
}

/** Every read a LedgerStore serves about the committed chain. */
function reads(store: LedgerStore, chain: readonly Committed[]): unknown {
  return {
    tip: store.tip(),
    blocks: chain.map((c) => store.getBlock(c.block.header.height)),
    past: store.getBlock(chain.length + 1),
    txs: chain.flatMap((c) => c.txs.map((tx) => store.getTx(tx.id))),
    absent: store.getTx(new Uint8Array(32)),
  };
}

describe("SqliteLedgerStore commits", () => {
  it("keeps the committed block's tip without reading it back, equal to the tip read after a reopen", () => {
    const genesis = genesisOf(3);
    const build = clinicChain(genesis, 4, 9);
    const memory = new MemoryLedgerStore(genesis);
    const path = fresh();
    const db = openChainDb({ path });
    const sqlite = new SqliteLedgerStore(db, genesis);
    const chainA = build(memory);
    const chainB = build(sqlite);
    expect(chainB.map((c) => c.encoded)).toEqual(chainA.map((c) => c.encoded));
    expect(sqlite.tip()).toEqual(memory.tip());
    expect(sqlite.tip().header).toEqual(chainB.at(-1)?.block.header);
    const answers = reads(sqlite, chainB);
    expect(answers).toEqual(reads(memory, chainA));
    db.close();
    const again = openChainDb({ path });
    const reopened = new SqliteLedgerStore(again, genesis);
    expect(reopened.tip()).toEqual(memory.tip());
    expect(reads(reopened, chainB)).toEqual(answers);
    again.close();
  });

  it("stores the exact bytes it was handed: blocks, transaction encodings and results", () => {
    const genesis = genesisOf(3);
    const db = openChainDb({ path: fresh() });
    const store = new SqliteLedgerStore(db, genesis);
    const chain = clinicChain(genesis, 2, 5)(store);
    expect(db.blocks.headerRange(2, 3)).toEqual(
      chain.slice(1, 3).map((c) => ({
        header: c.block.header,
        hash: blockHash(c.block.header),
        txCount: c.txs.length,
        raftIndex: c.raftIndex,
      })),
    );
    expect(db.blocks.headerRange(5, 9)).toEqual([]);
    for (const committed of chain) {
      const stored = store.getBlock(committed.block.header.height);
      expect(stored?.encoded).toEqual(committed.encoded);
      expect(stored?.block).toEqual(committed.block);
      committed.txs.forEach((tx, index) => {
        const found = store.getTx(tx.id);
        expect(found?.encoded).toEqual(encodeSignedTx(tx.signed));
        expect(found?.result).toEqual(committed.block.results[index]);
        expect([found?.height, found?.txIndex]).toEqual([committed.block.header.height, index]);
      });
    }
    db.close();
  });
});

describe("the block history below an installed snapshot", () => {
  it("names the highest gap with what chains to it, serves blocks down, and fills without touching the state", () => {
    const genesis = genesisOf(3);
    const dbA = openChainDb({ path: fresh() });
    const a = new SqliteLedgerStore(dbA, genesis);
    const chain = clinicChain(genesis, 10, 3)(a);
    expect(a.history.gap()).toBeNull();
    const dbB = openChainDb({ path: fresh() });
    const b = new SqliteLedgerStore(dbB, genesis);
    for (const committed of chain.slice(0, 3)) commitNext(b, committed.txs, true);
    expect(b.history.gap()).toBeNull();
    const stream = a.snapshots.exportState();
    const chunks: Uint8Array[] = [];
    for (let chunk = stream.next(); chunk !== null; chunk = stream.next()) chunks.push(chunk);
    stream.close();
    b.snapshots.importState(chunks, stream.tip);
    const tip = a.tip();
    const hashAt = (height: number) => blockHash((chain[height - 1] as Committed).block.header);
    expect(b.history.gap()).toEqual({
      low: 4,
      high: 12,
      anchor: tip.hash,
      raftIndexAbove: tip.appliedIndex + 1,
      prevBelow: hashAt(3),
      raftIndexBelow: (chain[2] as Committed).raftIndex,
    });
    // Served newest first, contiguous, never past what is stored.
    expect(a.history.encodedDown(12, 5)).toEqual(
      chain
        .slice(7, 12)
        .reverse()
        .map((c) => c.encoded),
    );
    expect(b.history.encodedDown(12, 5)).toEqual([]);
    expect(b.history.encodedDown(5, 4)).toEqual([]);
    expect(b.history.encodedDown(3, 4)).toEqual(
      chain
        .slice(0, 3)
        .reverse()
        .map((c) => c.encoded),
    );
    const history = (from: number, to: number) =>
      chain.slice(from - 1, to).map((c) => ({
        block: c.block,
        encoded: c.encoded,
        hash: blockHash(c.block.header),
        ids: c.txs.map((tx) => tx.id),
      }));
    const stateBefore = b.tip();
    b.history.fill(history(8, 12));
    expect(b.history.gap()).toEqual({
      low: 4,
      high: 7,
      anchor: hashAt(7),
      raftIndexAbove: (chain[7] as Committed).raftIndex,
      prevBelow: hashAt(3),
      raftIndexBelow: (chain[2] as Committed).raftIndex,
    });
    expect(() => b.history.fill(history(7, 8))).toThrow(/is stored/);
    b.history.fill(history(4, 7));
    expect(b.history.gap()).toBeNull();
    expect(stateBefore.header).toBeNull(); // the tip's block arrived with the state's tip only
    expect(b.tip()).toEqual({ ...stateBefore, header: (chain[11] as Committed).block.header });
    expect(reads(b, chain)).toEqual(reads(a, chain));
    dbA.close();
    dbB.close();
  });
});

describe("block bodies", () => {
  it("stores a body once, compressed when that helps, and reads back its exact bytes", () => {
    const genesis = genesisOf(3);
    const db = openChainDb({ path: fresh() });
    const store = new SqliteLedgerStore(db, genesis);
    const chain = clinicChain(genesis, 2, 40)(store);
    const rows = db.sqlite
      .prepare("SELECT height, codec, length(encoded) AS size FROM blocks")
      .all() as Array<{
      height: number;
      codec: number;
      size: number;
    }>;
    const big = rows.find((row) => row.height === 3);
    expect(big?.codec).toBe(CODEC_BROTLI);
    expect(big?.size).toBeLessThan((chain[2]?.encoded.byteLength ?? 0) / 2);
    for (const committed of chain) {
      expect(db.blocks.blockAt(committed.block.header.height)?.encoded).toEqual(committed.encoded);
    }
    expect(unpackBody(CODEC_NONE, chain[0]?.encoded ?? new Uint8Array(), 10)).toBe(chain[0]?.encoded);
    expect(packBody(new Uint8Array([0xa0])).codec).toBe(CODEC_NONE);
    expect(() => unpackBody(7, new Uint8Array(1), 10)).toThrow(
      expect.objectContaining({ code: "STORAGE_CORRUPT" }),
    );
    expect(() => unpackBody(CODEC_BROTLI, new Uint8Array([1, 2, 3]), 10)).toThrow(
      expect.objectContaining({ code: "STORAGE_CORRUPT" }),
    );
    db.close();
  });

  it("finds every transaction and result in a block's encoding, and refuses what is not a block", () => {
    const genesis = genesisOf(3);
    const store = new MemoryLedgerStore(genesis);
    const chain = clinicChain(genesis, 1, 3)(store);
    const empty = commitNext(store, [], false);
    for (const committed of [...chain, empty]) {
      const layout = blockLayout(committed.encoded);
      expect(layout.txs.length).toBe(2 * committed.txs.length);
      committed.block.txs.forEach((signed, index) => {
        const slice = (at: Uint32Array) => committed.encoded.subarray(at[2 * index], at[2 * index + 1]);
        expect(slice(layout.txs)).toEqual(encodeSignedTx(signed));
        expect(slice(layout.results)).toEqual(encodeTxResult(committed.block.results[index] as TxResult));
      });
    }
    const bytes = chain[0]?.encoded ?? new Uint8Array();
    for (const bad of [bytes.subarray(0, bytes.length - 1), new Uint8Array([0x80]), new Uint8Array([0xbf])]) {
      expect(() => blockLayout(bad)).toThrow(expect.objectContaining({ code: "STORAGE_CORRUPT" }));
    }
  });

  it("caches only committed bodies: a block rolled back leaves nothing behind", () => {
    const genesis = genesisOf(3);
    const db = openChainDb({ path: fresh() });
    const store = new SqliteLedgerStore(db, genesis);
    clinicChain(genesis, 1, 2)(store);
    const tip = store.tip();
    const time = tip.time + 1000;
    const doomedTxs = [makeTx(time, "patient.register", did("pz"), {})];
    const input = { chain: CHAIN, height: tip.height + 1, time, prevAppHash: tip.appHash, txs: doomedTxs };
    const outcome = store.dryRun((state) => applyBlock(state, input));
    const header: BlockHeader = {
      v: 1,
      chain: CHAIN,
      height: tip.height + 1,
      prev: tip.hash,
      time,
      proposer: did("m0-node"),
      txRoot: computeTxRoot(doomedTxs.map((tx) => tx.signed)),
      resultRoot: computeResultRoot(outcome.results),
      appHash: new Uint8Array(32).fill(9),
      raftTerm: 1,
      raftIndex: store.raft.lastIndex() + 1,
    };
    const block: Block = {
      header,
      sig: new Uint8Array(64),
      txs: [doomedTxs[0]?.signed as SignedTx],
      results: outcome.results,
    };
    expect(() =>
      db.blocks.applyCommittedBlock({
        block,
        encoded: encodeBlock(block),
        raftIndex: header.raftIndex,
        apply: (state) => applyBlock(state, input),
      }),
    ).toThrow(expect.objectContaining({ code: "APP_HASH_MISMATCH" }));
    expect(store.getBlock(header.height)).toBeNull();
    expect(store.getTx(doomedTxs[0]?.id as Uint8Array)).toBeNull();
    const next = commitNext(store, [makeTx(time, "patient.register", did("py"), {})], true);
    expect(store.getBlock(header.height)?.encoded).toEqual(next.encoded);
    db.close();
  });
});

describe("the Raft log over stored blocks", () => {
  /** Every read of the Storage port over the whole log, with several byte limits. */
  function observe(storage: Storage): unknown {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    const terms: number[] = [];
    for (let i = first - 1; i <= last; i++) terms.push(storage.term(i));
    const ranges = [0, 1, 3000, 100_000, Number.MAX_SAFE_INTEGER].map((maxBytes) =>
      Array.from({ length: last - first + 1 }, (_, k) => storage.entries(first + k, last + 1, maxBytes)),
    );
    return { first, last, terms, ranges, snapshot: storage.snapshot() };
  }

  it("reads like MemoryStorage: applied entries from their blocks, overwritten entries replaced", () => {
    const genesis = genesisOf(3);
    const path = fresh();
    const db = openChainDb({ path });
    const store = new SqliteLedgerStore(db, genesis);
    const memory = new MemoryStorage(store.raft.snapshot());
    const mirror: LedgerStore = new Proxy(store, {
      get(target, key, receiver) {
        if (key === "persistRaft") {
          return (persist: ReadyPersist) => {
            memory.append(persist.entries);
            target.persistRaft(persist);
          };
        }
        return Reflect.get(target, key, receiver);
      },
    });
    let term = 1;
    const build = clinicChain(genesis, 6, 5);
    const blocks: Committed[] = [];
    // A leader's entry that a new leader overwrites before it commits, then a no-op, then the blocks.
    const doomed = {
      index: store.raft.lastIndex() + 1,
      term,
      type: "normal" as const,
      data: new Uint8Array(900).fill(7),
    };
    mirror.persistRaft({ hardState: null, entries: [doomed], snapshot: null });
    term = 2;
    const noop = { index: doomed.index, term, type: "normal" as const, data: new Uint8Array(0) };
    mirror.persistRaft({
      hardState: { term, vote: "", commit: noop.index },
      entries: [noop],
      snapshot: null,
    });
    store.markApplied(noop.index);
    blocks.push(...build(mirror).map((c) => c));
    // The last block's successor: persisted, not committed, so it keeps its bytes.
    const pending = {
      index: store.raft.lastIndex() + 1,
      term,
      type: "normal" as const,
      data: blocks[0]?.encoded as Uint8Array,
    };
    mirror.persistRaft({ hardState: null, entries: [pending], snapshot: null });
    const released = db.sqlite.prepare("SELECT count(*) AS n FROM raft_entries WHERE data IS NULL").get() as {
      n: number;
    };
    expect(released.n).toBe(blocks.length);
    expect(observe(store.raft)).toEqual(observe(memory));
    db.close();
    const again = openChainDb({ path });
    const raft = again.raftStorage({ bootstrap: memory.snapshot(), cacheEntriesMax: 1, cacheBytesMax: 0 });
    expect(observe(raft)).toEqual(observe(memory));
    const at = blocks[3]?.raftIndex as number;
    const snapshot = raft.createSnapshot(at, { voters: ["a"], learners: [] }, new Uint8Array(4));
    memory.createSnapshot(at, { voters: ["a"], learners: [] }, new Uint8Array(4));
    expect(snapshot.metadata.index).toBe(at);
    expect(observe(raft)).toEqual(observe(memory));
    again.close();
  });
});

describe("migrating a database of schema 4 (before bodies were stored once and state rows compacted)", () => {
  /**
   * Writes `from`'s chain into a new database at `to` in the shape of schema 4 (the layout before
   * migrations 5 and 6): raw block encodings, transaction rows with their encodings and results, Raft
   * entries with their own bytes, audit rows with their values, seen with a rowid.
   */
  function writeSchema4(from: string, to: string): void {
    const target = new Database(to);
    target.exec(`CREATE TABLE migrations (
      number INTEGER PRIMARY KEY, sql_hash BLOB NOT NULL, applied_at_ms INTEGER NOT NULL) STRICT`);
    target.pragma(`application_id = ${CHAIN_DB_APPLICATION_ID}`);
    for (const [number, sql] of MIGRATIONS.slice(0, 4)) {
      target.exec(sql);
      target.prepare("INSERT INTO migrations VALUES (?, ?, 0)").run(number, migrationHash(sql));
    }
    target.exec(`ATTACH DATABASE '${from}' AS a`);
    target.transaction(() => {
      for (const [table] of STATE_TABLES) {
        if (table === "atoms" || table === "audit" || table === "seen") continue;
        target.exec(`INSERT INTO main.${table} SELECT * FROM a.${table}`);
      }
      const value = (column: string) => `(SELECT value FROM a.atoms WHERE ref = x.${column})`;
      target.exec(
        `INSERT INTO main.audit SELECT x.seq, x.tx, x.height, x.tx_index, x.time, ${[
          "provider",
          "patient",
          "category",
          "record",
          "purpose",
          "decision",
          "code",
          "cites",
        ]
          .map(value)
          .join(", ")}, x.flagged FROM a.audit x ORDER BY x.seq`,
      );
      target.exec("INSERT INTO main.seen (id, expires) SELECT id, expires FROM a.seen ORDER BY expires, id");
      for (const table of ["raft_state", "raft_snapshot"]) {
        target.exec(`INSERT INTO main.${table} SELECT * FROM a.${table}`);
      }
      const blocks = target.prepare("SELECT * FROM a.blocks ORDER BY height").all() as Array<
        Record<string, unknown>
      >;
      const encodings = new Map<number, Uint8Array>();
      for (const row of blocks) {
        const encoded = unpackBody(row.codec as number, row.encoded as Uint8Array, 1 << 24);
        encodings.set(row.raft_index as number, encoded);
        target
          .prepare("INSERT INTO main.blocks VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
          .run(row.height, row.hash, row.header, row.sig, row.time, row.tx_count, row.raft_index, encoded);
        const layout = blockLayout(encoded);
        const ids = target
          .prepare("SELECT id, tx_index FROM a.txs WHERE height = ?")
          .all(row.height) as Array<{
          id: Uint8Array;
          tx_index: number;
        }>;
        for (const { id, tx_index: index } of ids) {
          target
            .prepare("INSERT INTO main.txs (height, tx_index, id, signed, result) VALUES (?, ?, ?, ?, ?)")
            .run(
              row.height,
              index,
              id,
              encoded.subarray(layout.txs[2 * index], layout.txs[2 * index + 1]),
              encoded.subarray(layout.results[2 * index], layout.results[2 * index + 1]),
            );
        }
      }
      for (const entry of target.prepare("SELECT * FROM a.raft_entries").all() as Array<
        Record<string, unknown>
      >) {
        const data = entry.data ?? encodings.get(entry.idx as number);
        target
          .prepare("INSERT INTO main.raft_entries VALUES (?, ?, ?, ?)")
          .run(entry.idx, entry.term, entry.type, data);
      }
    })();
    target.exec("DETACH DATABASE a");
    target.close();
  }

  /** What the state answers about the clinic chain. */
  function stateAnswers(state: StateStore, chain: readonly Committed[]): unknown {
    const audit = (patient: string) => {
      const pages = [state.auditOfPatient(did(patient), { limit: 7 })];
      for (let page = pages[0]; page?.next; page = pages.at(-1)) {
        pages.push(state.auditOfPatient(did(patient), { after: page.next, limit: 7 }));
      }
      return pages;
    };
    return {
      chain: state.getChain(),
      audit: [audit("pa"), audit("pb"), audit("p0")],
      seen: chain.flatMap((c) => c.txs.map((tx) => state.hasSeen(tx.id))),
      identities: ["m0", "p0", "pa", "pb", "zz"].map((name) => state.getIdentity(did(name))),
      patients: ["pa", "pb", "p0"].map((name) => state.getPatient(did(name))),
      consents: state.consentsOfPatient(did("pa"), { limit: 10 }),
      live: state.liveConsents({ patient: did("pa"), grantees: [did("p0")], time: T0, limit: 5 }),
    };
  }

  it("keeps every block, transaction, Raft entry and state answer, and stores each body once", () => {
    const genesis = genesisOf(3);
    const current = fresh();
    const db = openChainDb({ path: current });
    const store = new SqliteLedgerStore(db, genesis);
    const chain = clinicChain(genesis, 3, 6)(store);
    const expected = {
      ledger: reads(store, chain),
      raft: store.raft.entries(1, store.raft.lastIndex() + 1, 1e9),
      state: stateAnswers(store.state, chain),
    };
    const audited = db.sqlite.prepare("SELECT count(*) AS n FROM audit").get() as { n: number };
    expect(audited.n).toBeGreaterThan(10);
    db.close();
    const old = fresh();
    writeSchema4(current, old);
    const migrated = openChainDb({ path: old });
    expect(migrated.migrations()).toEqual(MIGRATIONS.map(([number]) => number));
    const reopened = new SqliteLedgerStore(migrated, genesis);
    expect(reads(reopened, chain)).toEqual(expected.ledger);
    expect(stateAnswers(reopened.state, chain)).toEqual(expected.state);
    expect(migrated.sqlite.prepare("SELECT count(*) AS n FROM audit").get()).toEqual(audited);
    expect(reopened.raft.entries(1, reopened.raft.lastIndex() + 1, 1e9)).toEqual(expected.raft);
    const released = migrated.sqlite
      .prepare("SELECT count(*) AS n FROM raft_entries WHERE data IS NULL")
      .get();
    expect(released).toEqual({ n: chain.length });
    expect(migrated.integrityCheck()).toEqual({ ok: true, problems: [] });
    // Blocks written after the migration are compressed; the migrated ones stay as they were.
    const next = commitNext(
      reopened,
      chain[3]?.txs.map((tx) => ({ ...tx, id: hashOf(`again-${toHex(tx.id)}`) })) ?? [],
      true,
    );
    const codecs = migrated.sqlite.prepare("SELECT codec FROM blocks ORDER BY height").all();
    expect(codecs.at(-1)).toEqual({ codec: CODEC_BROTLI });
    expect(codecs.slice(0, -1).every((row) => (row as { codec: number }).codec === CODEC_NONE)).toBe(true);
    expect(reopened.getBlock(next.block.header.height)?.encoded).toEqual(next.encoded);
    migrated.close();
  });
});
