/**
 * The storage port the core reads (never writes), and an in-memory implementation for drivers and
 * tests. The driver writes to storage what each Ready asks it to persist, then calls advance().
 */
import { assert, RaftError } from "./errors.js";
import { entry_overhead_bytes } from "./limits.js";
import type { ConfState, Entry, HardState, Snapshot } from "./types.js";
import { NO_NODE } from "./types.js";

/** What storage holds when a node starts: its hard state and the configuration of its snapshot. */
export interface InitialState {
  readonly hardState: HardState;
  readonly confState: ConfState;
}

/**
 * A read-only view of durable Raft state. Indexes below firstIndex() throw COMPACTED; indexes above
 * lastIndex() throw UNAVAILABLE. term(firstIndex() - 1) is the snapshot's term.
 */
export interface Storage {
  /** The durable hard state and the configuration at the snapshot. */
  initialState(): InitialState;
  /** Entries in [lo, hi), at most maxBytes in total but always at least one. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** The term of the entry at index i, for firstIndex()-1 <= i <= lastIndex(). */
  term(index: number): number;
  /** The first index still held as an entry (the snapshot's index + 1). */
  firstIndex(): number;
  /** The last index held (the snapshot's index if there are no entries). */
  lastIndex(): number;
  /** The latest snapshot; may throw SNAPSHOT_TEMPORARILY_UNAVAILABLE. */
  snapshot(): Snapshot;
}

/** The size an entry counts for in every byte limit. */
export function entrySizeBytes(entry: Entry): number {
  return entry.data.byteLength + entry_overhead_bytes;
}

/** Keeps the longest prefix of entries within maxBytes, but at least one entry. */
export function limitSize(entries: Entry[], maxBytes: number): Entry[] {
  let total = 0;
  for (let i = 0; i < entries.length; i++) {
    total += entrySizeBytes(entries[i] as Entry);
    if (i > 0 && total > maxBytes) return entries.slice(0, i);
  }
  return entries;
}

/** An empty configuration's snapshot at index 0, the starting point of a new cluster. */
export function bootstrapSnapshot(confState: ConfState): Snapshot {
  return { metadata: { index: 0, term: 0, confState }, data: new Uint8Array(0) };
}

/**
 * Storage in memory. `ents[0]` is a dummy entry standing for the snapshot (its index and term), so
 * entry i sits at ents[i - ents[0].index].
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = { term: 0, vote: NO_NODE, commit: 0 };
  private snap: Snapshot;
  private ents: Entry[];

  /** Starts from a snapshot: for a new cluster, bootstrapSnapshot() of the initial configuration. */
  constructor(snapshot: Snapshot) {
    this.snap = snapshot;
    this.ents = [dummyEntry(snapshot)];
  }

  initialState(): InitialState {
    return { hardState: this.hardState, confState: this.snap.metadata.confState };
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.offset();
    if (lo <= offset) throw new RaftError("COMPACTED", `index ${lo} is compacted (first ${offset + 1})`);
    if (hi > this.lastIndex() + 1) throw new RaftError("UNAVAILABLE", `index ${hi - 1} is past the last`);
    assert(lo <= hi, "storage.entries range reversed");
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxBytes);
  }

  term(index: number): number {
    const offset = this.offset();
    if (index < offset) throw new RaftError("COMPACTED", `index ${index} is compacted`);
    if (index > this.lastIndex()) throw new RaftError("UNAVAILABLE", `index ${index} is past the last`);
    return (this.ents[index - offset] as Entry).term;
  }

  firstIndex(): number {
    return this.offset() + 1;
  }

  lastIndex(): number {
    return this.offset() + this.ents.length - 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Driver: records the hard state of a Ready. */
  setHardState(hardState: HardState): void {
    this.hardState = hardState;
  }

  /** Driver: appends the entries of a Ready, replacing any conflicting suffix. */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const offset = this.offset();
    assert(first.index <= this.lastIndex() + 1, "storage.append leaves a gap");
    if (first.index + entries.length - 1 <= offset) return;
    const skip = Math.max(0, offset + 1 - first.index);
    const start = first.index + skip - offset;
    this.ents.length = start;
    for (let i = skip; i < entries.length; i++) this.ents.push(entries[i] as Entry);
  }

  /** Driver: replaces the log by a snapshot received from the leader. */
  applySnapshot(snapshot: Snapshot): void {
    if (snapshot.metadata.index <= this.snap.metadata.index) {
      throw new RaftError("SNAPSHOT_OUT_OF_DATE", `snapshot ${snapshot.metadata.index} is not newer`);
    }
    this.snap = snapshot;
    this.ents = [dummyEntry(snapshot)];
  }

  /** Driver: records a snapshot of the applied state at `index` and compacts the log up to it. */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    const offset = this.offset();
    if (index <= this.snap.metadata.index) {
      throw new RaftError("SNAPSHOT_OUT_OF_DATE", `snapshot ${index} is not newer`);
    }
    assert(index <= this.lastIndex(), "snapshot index past the last entry");
    const term = (this.ents[index - offset] as Entry).term;
    this.snap = { metadata: { index, term, confState }, data };
    this.ents = [dummyEntry(this.snap), ...this.ents.slice(index - offset + 1)];
    return this.snap;
  }

  private offset(): number {
    return (this.ents[0] as Entry).index;
  }
}

function dummyEntry(snapshot: Snapshot): Entry {
  return {
    term: snapshot.metadata.term,
    index: snapshot.metadata.index,
    type: "normal",
    data: new Uint8Array(0),
  };
}
