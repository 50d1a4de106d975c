/**
 * The consensus package's Storage port over the chain database: raft_entries, raft_state (the hard
 * state) and raft_snapshot (metadata and small data). It behaves exactly like MemoryStorage (same
 * errors, same truncation of a conflicting suffix, same snapshot and compaction rules; a conformance
 * test compares them) and adds persist(), which writes everything one Ready asks for in ONE SQLite
 * transaction: one fsync per Ready (group commit).
 *
 * Reads on the Raft hot path (term(), lastIndex(), recent entries) are served from memory: the
 * snapshot metadata, the hard state and the indexes are held in fields, and a bounded cache keeps the
 * terms and entries of the log's tail. Memory changes only after the transaction committed, so a failed
 * write (disk full) leaves the view equal to the disk.
 *
 * An entry carrying a block keeps its bytes until the block is applied: then the block store, in the
 * apply's transaction, sets the entry's data to NULL when the stored block holds exactly those bytes
 * (a committed entry is never replaced), and reads give back the stored block's canonical encoding.
 * Entries a new leader may still overwrite (not applied) always keep their own bytes.
 */
import {
  assert,
  type ConfState,
  type Entry,
  entrySizeBytes,
  type HardState,
  type InitialState,
  limitSize,
  NO_NODE,
  RaftError,
  type Snapshot,
  type Storage,
} from "@medledger/consensus";
import type Database from "better-sqlite3";
import { NodeError } from "../errors.js";
import {
  raft_entry_cache_bytes_max,
  raft_entry_cache_entries_max,
  raft_snapshot_data_bytes_max,
  raft_term_cache_entries_max,
} from "../limits.js";
import { bytes, guard } from "./sql.js";

/** What one Ready asks the driver to make durable, in the order it must be applied. */
export interface RaftPersist {
  readonly hardState?: HardState | null;
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot | null;
}

/** Options of SqliteRaftStorage. */
export interface SqliteRaftStorageOptions {
  /** Used only when the database holds no Raft snapshot yet (a new node): bootstrapSnapshot(conf). */
  readonly bootstrap: Snapshot;
  /** Most entries kept in the tail cache (default and maximum: raft_entry_cache_entries_max). */
  readonly cacheEntriesMax?: number;
  /** Most bytes of entry data kept in the tail cache (default and maximum: raft_entry_cache_bytes_max). */
  readonly cacheBytesMax?: number;
}

const SQL = {
  loadSnapshot: "SELECT idx, term, conf_state, data FROM raft_snapshot WHERE id = 0",
  loadHardState: "SELECT term, vote, [commit] FROM raft_state WHERE id = 0",
  bounds: "SELECT min(idx) AS first, max(idx) AS last, count(*) AS n FROM raft_entries",
  putSnapshot: `INSERT INTO raft_snapshot (id, idx, term, conf_state, data) VALUES (0, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET idx = excluded.idx, term = excluded.term,
    conf_state = excluded.conf_state, data = excluded.data`,
  putHardState: `INSERT INTO raft_state (id, term, vote, [commit]) VALUES (0, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET term = excluded.term, vote = excluded.vote, [commit] = excluded.[commit]`,
  insertEntry: "INSERT INTO raft_entries (idx, term, type, data) VALUES (?, ?, ?, ?)",
  deleteFrom: "DELETE FROM raft_entries WHERE idx >= ?",
  deleteThrough: "DELETE FROM raft_entries WHERE idx <= ?",
  deleteAll: "DELETE FROM raft_entries",
  term: "SELECT term FROM raft_entries WHERE idx = ?",
  entries: `SELECT e.idx, e.term, e.type, e.data, b.height, b.codec, b.encoded FROM raft_entries e
    LEFT JOIN blocks b ON e.data IS NULL AND b.raft_index = e.idx
    WHERE e.idx >= ? AND e.idx < ? ORDER BY e.idx`,
} as const;

type Statements = { -readonly [K in keyof typeof SQL]: Database.Statement };
type EntryRow = {
  idx: number;
  term: number;
  type: number;
  data: Buffer | null;
  height: number | null;
  codec: number | null;
  encoded: Buffer | null;
};

/** The Raft log's tail in memory: terms of [termStart, last] and entries of [entryStart, last]. */
class TailCache {
  private termStart = 1;
  private terms: number[] = [];
  private entryStart = 1;
  private entries: Entry[] = [];
  private entryBytes = 0;

  constructor(
    private readonly entriesMax: number,
    private readonly bytesMax: number,
  ) {}

  /** Empties the cache; the next entry pushed will have index `next`. */
  reset(next: number): void {
    this.termStart = next;
    this.terms = [];
    this.entryStart = next;
    this.entries = [];
    this.entryBytes = 0;
  }

  /** Forgets every entry at `index` or after (a conflicting suffix is replaced from there). */
  truncateFrom(index: number): void {
    if (index <= this.termStart) {
      this.termStart = index;
      this.terms = [];
    } else {
      this.terms.length = Math.min(this.terms.length, index - this.termStart);
    }
    if (index <= this.entryStart) {
      this.dropEntries(index);
      return;
    }
    const keep = index - this.entryStart;
    for (let i = this.entries.length - 1; i >= keep; i--) this.entryBytes -= dataBytes(this.entries[i]);
    this.entries.length = Math.min(this.entries.length, keep);
  }

  /** Appends the next entry of the log (a non-contiguous index restarts the cache there). */
  push(entry: Entry): void {
    if (entry.index !== this.termStart + this.terms.length) {
      this.termStart = entry.index;
      this.terms = [];
    }
    this.terms.push(entry.term);
    if (entry.index !== this.entryStart + this.entries.length) this.dropEntries(entry.index);
    this.entries.push(entry);
    this.entryBytes += dataBytes(entry);
    if (this.terms.length > raft_term_cache_entries_max) this.evictTerms();
    while (this.entries.length > this.entriesMax || this.entryBytes > this.bytesMax) this.evictEntry();
  }

  /** Forgets every entry at `index` or before (compaction). */
  compactThrough(index: number): void {
    const dropTerms = Math.min(this.terms.length, index + 1 - this.termStart);
    if (dropTerms > 0) {
      this.terms.splice(0, dropTerms);
      this.termStart += dropTerms;
    }
    while (this.entries.length > 0 && this.entryStart <= index) this.evictEntry();
    if (this.entries.length === 0) this.entryStart = Math.max(this.entryStart, index + 1);
  }

  /** The cached term of entry `index`, or undefined. */
  term(index: number): number | undefined {
    return index >= this.termStart ? this.terms[index - this.termStart] : undefined;
  }

  /** The cached entries [lo, hi) when all of them are cached, else undefined. */
  slice(lo: number, hi: number): Entry[] | undefined {
    if (lo < this.entryStart || hi > this.entryStart + this.entries.length) return undefined;
    return this.entries.slice(lo - this.entryStart, hi - this.entryStart);
  }

  private dropEntries(next: number): void {
    this.entries = [];
    this.entryBytes = 0;
    this.entryStart = next;
  }

  private evictTerms(): void {
    const drop = this.terms.length - Math.floor((raft_term_cache_entries_max * 3) / 4);
    this.terms.splice(0, drop);
    this.termStart += drop;
  }

  private evictEntry(): void {
    const first = this.entries.shift();
    if (first === undefined) return;
    this.entryBytes -= dataBytes(first);
    this.entryStart += 1;
  }
}

function dataBytes(entry: Entry | undefined): number {
  return entry === undefined ? 0 : entry.data.byteLength;
}

/** Reads the canonical encoding of a stored block from its row (the BlockStore, with its cache). */
export interface StoredBodies {
  unpack(row: { height: number; codec: number; encoded: Uint8Array }): Uint8Array;
}

/** Raft Storage over SQLite, equal in behaviour to MemoryStorage, with persist() for one Ready. */
export class SqliteRaftStorage implements Storage {
  private readonly statements: Statements;
  private readonly cache: TailCache;
  private hardState: HardState = { term: 0, vote: NO_NODE, commit: 0 };
  private snap: Snapshot;
  private last: number;
  private readonly writeReady: (persist: RaftPersist) => void;

  /** Opens the Raft state of `sqlite`, storing `options.bootstrap` first if the database has none. */
  constructor(
    private readonly sqlite: Database.Database,
    options: SqliteRaftStorageOptions,
    private readonly bodies: StoredBodies,
  ) {
    const entriesMax = Math.min(
      options.cacheEntriesMax ?? raft_entry_cache_entries_max,
      raft_entry_cache_entries_max,
    );
    const bytesMax = Math.min(
      options.cacheBytesMax ?? raft_entry_cache_bytes_max,
      raft_entry_cache_bytes_max,
    );
    this.cache = new TailCache(Math.max(1, entriesMax), Math.max(0, bytesMax));
    this.statements = guard(() => prepareAll(sqlite));
    this.writeReady = sqlite.transaction((persist: RaftPersist) => this.write(persist));
    this.snap = guard(() => this.loadSnapshot(options.bootstrap));
    this.hardState = guard(() => this.loadHardState());
    this.last = guard(() => this.loadLastIndex());
    this.cache.reset(this.last + 1);
  }

  /** The durable hard state and the configuration at the snapshot. */
  initialState(): InitialState {
    return { hardState: this.hardState, confState: this.snap.metadata.confState };
  }

  /** Entries in [lo, hi), at most maxBytes in total but always at least one. */
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.offset();
    if (lo <= offset) throw new RaftError("COMPACTED", `index ${lo} is compacted (first ${offset + 1})`);
    if (hi > this.last + 1) throw new RaftError("UNAVAILABLE", `index ${hi - 1} is past the last`);
    assert(lo <= hi, "storage.entries range reversed");
    const cached = this.cache.slice(lo, hi);
    if (cached !== undefined) return limitSize(cached, maxBytes);
    return guard(() => this.readEntries(lo, hi, maxBytes));
  }

  /** The term of the entry at `index`, for firstIndex()-1 <= index <= lastIndex(). */
  term(index: number): number {
    const offset = this.offset();
    if (index < offset) throw new RaftError("COMPACTED", `index ${index} is compacted`);
    if (index > this.last) throw new RaftError("UNAVAILABLE", `index ${index} is past the last`);
    if (index === offset) return this.snap.metadata.term;
    const cached = this.cache.term(index);
    if (cached !== undefined) return cached;
    const row = guard(() => this.statements.term.get(index)) as { term: number } | undefined;
    if (row === undefined) throw corrupt(`raft entry ${index} is missing`);
    return row.term;
  }

  /** The first index still held as an entry (the snapshot's index + 1). */
  firstIndex(): number {
    return this.offset() + 1;
  }

  /** The last index held (the snapshot's index if there are no entries). */
  lastIndex(): number {
    return this.last;
  }

  /** The latest snapshot. */
  snapshot(): Snapshot {
    return this.snap;
  }

  /**
   * Driver: makes one Ready durable in ONE transaction (one fsync): the snapshot (replacing the log),
   * then the entries (replacing any conflicting suffix), then the hard state. Nothing is written when
   * it throws (SNAPSHOT_OUT_OF_DATE, a gap, STORAGE_FULL...).
   */
  persist(persist: RaftPersist): void {
    const snapshot = persist.snapshot ?? null;
    if (snapshot !== null) this.checkNewer(snapshot.metadata.index);
    if (snapshot !== null) checkSnapshotData(snapshot.data);
    const offset = snapshot?.metadata.index ?? this.offset();
    const last = snapshot?.metadata.index ?? this.last;
    const first = persist.entries[0];
    if (first !== undefined) assert(first.index <= last + 1, "storage.append leaves a gap");
    checkContiguous(persist.entries);
    const appends = first !== undefined && first.index + persist.entries.length - 1 > offset;
    const hardState = persist.hardState ?? null;
    if (snapshot === null && !appends && hardState === null) return;
    guard(() => this.writeReady(persist));
    this.remember(persist);
  }

  /** Driver: records the hard state of a Ready (its own transaction; prefer persist()). */
  setHardState(hardState: HardState): void {
    this.persist({ hardState, entries: [] });
  }

  /** Driver: appends entries, replacing any conflicting suffix (its own transaction; prefer persist()). */
  append(entries: readonly Entry[]): void {
    this.persist({ entries });
  }

  /** Driver: replaces the log by a snapshot received from the leader (its own transaction). */
  applySnapshot(snapshot: Snapshot): void {
    this.persist({ snapshot, entries: [] });
  }

  /** Driver: records a snapshot of the applied state at `index` and compacts the log up to it. */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    this.checkNewer(index);
    assert(index <= this.last, "snapshot index past the last entry");
    checkSnapshotData(data);
    const term = this.term(index);
    const snapshot: Snapshot = { metadata: { index, term, confState }, data };
    guard(() =>
      this.sqlite.transaction(() => {
        this.writeSnapshot(snapshot);
        this.statements.deleteThrough.run(index);
      })(),
    );
    this.snap = snapshot;
    this.cache.compactThrough(index);
    return snapshot;
  }

  private offset(): number {
    return this.snap.metadata.index;
  }

  private checkNewer(index: number): void {
    if (index <= this.snap.metadata.index) {
      throw new RaftError("SNAPSHOT_OUT_OF_DATE", `snapshot ${index} is not newer`);
    }
  }

  /** The SQL of one Ready; runs inside the transaction, changes nothing in memory. */
  private write(persist: RaftPersist): void {
    const snapshot = persist.snapshot ?? null;
    if (snapshot !== null) {
      this.writeSnapshot(snapshot);
      this.statements.deleteAll.run();
    }
    const offset = snapshot?.metadata.index ?? this.offset();
    const first = persist.entries[0];
    if (first !== undefined && first.index + persist.entries.length - 1 > offset) {
      const skip = Math.max(0, offset + 1 - first.index);
      this.statements.deleteFrom.run(first.index + skip);
      for (let i = skip; i < persist.entries.length; i++) {
        const entry = persist.entries[i] as Entry;
        this.statements.insertEntry.run(entry.index, entry.term, entry.type === "normal" ? 0 : 1, entry.data);
      }
    }
    const hardState = persist.hardState ?? null;
    if (hardState !== null)
      this.statements.putHardState.run(hardState.term, hardState.vote, hardState.commit);
  }

  /** Moves the in-memory view to what persist() just made durable. */
  private remember(persist: RaftPersist): void {
    const snapshot = persist.snapshot ?? null;
    if (snapshot !== null) {
      this.snap = snapshot;
      this.last = snapshot.metadata.index;
      this.cache.reset(this.last + 1);
    }
    const offset = this.offset();
    const first = persist.entries[0];
    if (first !== undefined && first.index + persist.entries.length - 1 > offset) {
      const skip = Math.max(0, offset + 1 - first.index);
      this.cache.truncateFrom(first.index + skip);
      for (let i = skip; i < persist.entries.length; i++) this.cache.push(persist.entries[i] as Entry);
      this.last = first.index + persist.entries.length - 1;
    }
    if (persist.hardState !== undefined && persist.hardState !== null) this.hardState = persist.hardState;
  }

  private writeSnapshot(snapshot: Snapshot): void {
    const { index, term, confState } = snapshot.metadata;
    const conf = JSON.stringify({ voters: confState.voters, learners: confState.learners });
    this.statements.putSnapshot.run(index, term, conf, snapshot.data);
  }

  private readEntries(lo: number, hi: number, maxBytes: number): Entry[] {
    const out: Entry[] = [];
    let total = 0;
    for (const raw of this.statements.entries.iterate(lo, hi)) {
      const row = raw as EntryRow;
      if (row.idx !== lo + out.length) throw corrupt(`raft entry ${lo + out.length} is missing`);
      const type = row.type === 0 ? "normal" : "confChange";
      const entry: Entry = { index: row.idx, term: row.term, type, data: this.dataOf(row) };
      total += entrySizeBytes(entry);
      if (out.length > 0 && total > maxBytes) return out;
      out.push(entry);
    }
    if (out.length !== hi - lo) throw corrupt(`raft entry ${lo + out.length} is missing`);
    return out;
  }

  /** An entry's bytes: its own, or (an applied block's entry) those of the block stored with its index. */
  private dataOf(row: EntryRow): Uint8Array {
    if (row.data !== null) return bytes(row.data);
    if (row.height === null || row.codec === null || row.encoded === null) {
      throw corrupt(`raft entry ${row.idx} has no data and no stored block`);
    }
    return this.bodies.unpack({ height: row.height, codec: row.codec, encoded: bytes(row.encoded) });
  }

  private loadSnapshot(bootstrap: Snapshot): Snapshot {
    const row = this.statements.loadSnapshot.get() as
      | { idx: number; term: number; conf_state: string; data: Buffer }
      | undefined;
    if (row === undefined) {
      checkSnapshotData(bootstrap.data);
      this.sqlite.transaction(() => this.writeSnapshot(bootstrap))();
      return bootstrap;
    }
    const conf = JSON.parse(row.conf_state) as { voters: string[]; learners: string[] };
    return {
      metadata: {
        index: row.idx,
        term: row.term,
        confState: { voters: conf.voters, learners: conf.learners },
      },
      data: bytes(row.data),
    };
  }

  private loadHardState(): HardState {
    const row = this.statements.loadHardState.get() as
      | { term: number; vote: string; commit: number }
      | undefined;
    return row === undefined
      ? { term: 0, vote: NO_NODE, commit: 0 }
      : { term: row.term, vote: row.vote, commit: row.commit };
  }

  private loadLastIndex(): number {
    const row = this.statements.bounds.get() as { first: number | null; last: number | null; n: number };
    if (row.first === null || row.last === null) return this.offset();
    const contiguous = row.first === this.offset() + 1 && row.last - row.first + 1 === row.n;
    if (!contiguous) throw corrupt(`raft log is not contiguous after snapshot ${this.offset()}`);
    return row.last;
  }
}

function prepareAll(sqlite: Database.Database): Statements {
  const out: Partial<Statements> = {};
  for (const name of Object.keys(SQL) as Array<keyof typeof SQL>) out[name] = sqlite.prepare(SQL[name]);
  return out as Statements;
}

function checkContiguous(entries: readonly Entry[]): void {
  for (let i = 1; i < entries.length; i++) {
    assert(
      (entries[i] as Entry).index === (entries[i - 1] as Entry).index + 1,
      "storage.append entries are not contiguous",
    );
  }
}

function checkSnapshotData(data: Uint8Array): void {
  if (data.byteLength > raft_snapshot_data_bytes_max) {
    throw new NodeError(
      "OPTIONS_INVALID",
      `Raft snapshot data is ${data.byteLength} bytes; at most ${raft_snapshot_data_bytes_max} (state moves in chunks)`,
    );
  }
}

function corrupt(message: string): NodeError {
  return new NodeError("STORAGE_CORRUPT", `chain database: ${message}`);
}
