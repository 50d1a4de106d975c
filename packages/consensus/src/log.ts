/**
 * The Raft log: the durable part read through Storage, and the unstable part (entries and at most one
 * snapshot) that the driver has not yet persisted. Indexes: snapshot < firstIndex <= lastIndex.
 */
import { assert, RaftError } from "./errors.js";
import type { Storage } from "./storage.js";
import { limitSize } from "./storage.js";
import type { Entry, Snapshot } from "./types.js";

/** Entries and a snapshot not yet persisted; `offset` is the index of entries[0]. */
class Unstable {
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  lastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot === null ? undefined : this.snapshot.metadata.index;
  }

  term(index: number): number | undefined {
    if (index >= this.offset) return this.entries[index - this.offset]?.term;
    if (this.snapshot !== null && this.snapshot.metadata.index === index) return this.snapshot.metadata.term;
    return undefined;
  }

  /** Appends, replacing every entry at or after the first new index. */
  truncateAndAppend(entries: readonly Entry[]): void {
    const after = (entries[0] as Entry).index;
    if (after === this.offset + this.entries.length) {
      for (const entry of entries) this.entries.push(entry);
    } else if (after <= this.offset) {
      this.offset = after;
      this.entries = entries.slice();
    } else {
      this.entries = this.entries.slice(0, after - this.offset).concat(entries);
    }
  }

  /** The driver persisted entries up to (index, term); a stale acknowledgement changes nothing. */
  stableTo(index: number, term: number): void {
    if (index < this.offset || this.term(index) !== term) return;
    this.entries = this.entries.slice(index + 1 - this.offset);
    this.offset = index + 1;
  }

  stableSnapshotTo(index: number): void {
    if (this.snapshot !== null && this.snapshot.metadata.index === index) this.snapshot = null;
  }

  restore(snapshot: Snapshot): void {
    this.offset = snapshot.metadata.index + 1;
    this.entries = [];
    this.snapshot = snapshot;
  }
}

/** The log of one node: storage plus unstable, with the commit and apply positions. */
export class RaftLog {
  readonly storage: Storage;
  readonly unstable: Unstable;
  committed: number;
  applied: number;

  constructor(storage: Storage) {
    this.storage = storage;
    const first = storage.firstIndex();
    this.unstable = new Unstable(storage.lastIndex() + 1);
    this.committed = first - 1;
    this.applied = first - 1;
  }

  firstIndex(): number {
    const snapshot = this.unstable.snapshot;
    return snapshot === null ? this.storage.firstIndex() : snapshot.metadata.index + 1;
  }

  lastIndex(): number {
    return this.unstable.lastIndex() ?? this.storage.lastIndex();
  }

  lastTerm(): number {
    return this.termAt(this.lastIndex()) as number;
  }

  /** The last index whose entry is durable, as far as this log knows. */
  stableLastIndex(): number {
    if (this.unstable.snapshot !== null) return 0;
    return Math.min(this.storage.lastIndex(), this.unstable.offset - 1);
  }

  /** The term at index, or undefined when it is compacted or past the end. */
  termAt(index: number): number | undefined {
    if (index < this.firstIndex() - 1 || index > this.lastIndex()) return undefined;
    const unstableTerm = this.unstable.term(index);
    if (unstableTerm !== undefined) return unstableTerm;
    try {
      return this.storage.term(index);
    } catch (error) {
      if (error instanceof RaftError && (error.code === "COMPACTED" || error.code === "UNAVAILABLE"))
        return undefined;
      throw error;
    }
  }

  matchTerm(index: number, term: number): boolean {
    return this.termAt(index) === term;
  }

  /** Whether a log ending at (lastIndex, lastTerm) is at least as up to date as this one (§5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** The index of the first entry that is absent or has another term here, or 0 if all match. */
  findConflict(entries: readonly Entry[]): number {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /** Appends entries, replacing any suffix from the first new index. Never touches committed entries. */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    assert(first.index > this.committed, "append would overwrite a committed entry");
    assert(first.index <= this.lastIndex() + 1, "append would leave a gap in the log");
    this.unstable.truncateAndAppend(entries);
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    assert(index <= this.lastIndex(), "commit index past the last entry");
    this.committed = index;
  }

  appliedTo(index: number): void {
    if (index === 0) return;
    assert(index <= this.committed, "applied index past the commit index");
    assert(index >= this.applied, "applied index moved backwards");
    this.applied = index;
  }

  /** Entries in [lo, hi), at most maxBytes but at least one; throws COMPACTED below firstIndex. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo >= hi) return [];
    if (lo < this.firstIndex()) throw new RaftError("COMPACTED", `index ${lo} is compacted`);
    assert(hi <= this.lastIndex() + 1, "log slice past the last entry");
    const offset = this.unstable.offset;
    let result: Entry[] = [];
    if (lo < offset) {
      result = this.storage.entries(lo, Math.min(hi, offset), maxBytes);
      if (result.length < Math.min(hi, offset) - lo) return result;
    }
    if (hi > offset) {
      const start = Math.max(lo, offset) - offset;
      const unstable = this.unstable.entries.slice(start, hi - offset);
      result = result.length === 0 ? unstable : result.concat(unstable);
    }
    return limitSize(result, maxBytes);
  }

  /** Committed entries not yet handed to the driver, in order. */
  nextCommittedEntries(maxBytes: number): Entry[] {
    const lo = Math.max(this.applied + 1, this.firstIndex());
    const hi = Math.min(this.committed, this.lastIndex()) + 1;
    return this.slice(lo, hi, maxBytes);
  }

  hasNextCommittedEntries(): boolean {
    return Math.min(this.committed, this.lastIndex()) >= Math.max(this.applied + 1, this.firstIndex());
  }

  /** The snapshot to send a follower: the unstable one if any, else storage's. */
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  /** Replaces the whole log by a snapshot; its index becomes the commit index. */
  restore(snapshot: Snapshot): void {
    assert(snapshot.metadata.index > this.committed, "restoring a snapshot older than the commit index");
    this.committed = snapshot.metadata.index;
    this.unstable.restore(snapshot);
  }
}
