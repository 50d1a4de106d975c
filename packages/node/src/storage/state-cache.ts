/**
 * Read caches over the committed state that no uncommitted write can leak into.
 *
 * The block store runs every block (applied, or a leader's dry run that always rolls back) in a
 * "scope": while it is open, values written or created go to the scope's pending map; when the
 * transaction commits they join the committed map, when it rolls back they are dropped. A value read
 * from the database for a key the scope did not write is the committed one, so it is kept at once.
 * Outside any scope, a write in autocommit mode is committed at once and kept; a write inside some
 * other transaction (tests drive the state store that way) only evicts its key, and nothing read
 * inside such a transaction is kept, since it may roll back.
 */
import type Database from "better-sqlite3";

/** The scope hooks every cache of the state store follows (see the module comment). */
export interface Scoped {
  /** A block's transaction begins. */
  open(): void;
  /** It ended: committed, or rolled back. */
  close(committed: boolean): void;
  /** Forgets what was read (the state was replaced underneath, e.g. by a state import). */
  clear(): void;
}

/** A bounded map of committed values (oldest out first), with the pending values of the open scope. */
export class ScopedCache<K, V> implements Scoped {
  private readonly committed = new Map<K, V>();
  private pending: Map<K, V> | null = null;

  constructor(
    private readonly sqlite: Database.Database,
    private readonly entriesMax: number,
  ) {}

  /** The value of `key` as this connection sees it, or undefined when it is not cached. */
  get(key: K): V | undefined {
    if (this.pending !== null) {
      const value = this.pending.get(key);
      if (value !== undefined) return value;
    }
    return this.committed.get(key);
  }

  /** Keeps `value`, just read from the database for a key not written in the open scope. */
  fill(key: K, value: V): void {
    if (this.pending !== null || !this.sqlite.inTransaction) this.keep(key, value);
  }

  /** Records that `key` now has `value` (written or created in the database). */
  write(key: K, value: V): void {
    if (this.pending !== null) this.pending.set(key, value);
    else if (!this.sqlite.inTransaction) this.keep(key, value);
    else this.committed.delete(key);
  }

  open(): void {
    this.pending = new Map();
  }

  close(committed: boolean): void {
    const pending = this.pending;
    this.pending = null;
    if (committed && pending !== null) for (const [key, value] of pending) this.keep(key, value);
  }

  /** Forgets every committed value (the values of an open scope stay: they are its own writes). */
  clear(): void {
    this.committed.clear();
  }

  private keep(key: K, value: V): void {
    this.committed.delete(key);
    this.committed.set(key, value);
    if (this.committed.size > this.entriesMax) {
      const oldest = this.committed.keys().next();
      if (oldest.done !== true) this.committed.delete(oldest.value);
    }
  }
}

/**
 * A cache of lists that any write of their table invalidates as a whole (a patient's unrevoked
 * consents): a write evicts everything, and until its scope ends (or, outside scopes, while its
 * transaction may be open) lists are read from the database and not kept.
 */
export class ListCache<K, V> implements Scoped {
  private readonly committed = new Map<K, V>();
  private scopeOpen = false;
  private dirty = false;

  constructor(
    private readonly sqlite: Database.Database,
    private readonly entriesMax: number,
  ) {}

  /** The cached list of `key`, or undefined (not cached, or not to be trusted now). */
  get(key: K): V | undefined {
    if (!this.usable()) return undefined;
    return this.committed.get(key);
  }

  /** Keeps `value`, just read from the database, when it can only be the committed one. */
  fill(key: K, value: V): void {
    if (!this.usable()) return;
    this.committed.set(key, value);
    if (this.committed.size > this.entriesMax) {
      const oldest = this.committed.keys().next();
      if (oldest.done !== true) this.committed.delete(oldest.value);
    }
  }

  /** The table was written: every list may be stale. */
  written(): void {
    this.committed.clear();
    if (this.scopeOpen) this.dirty = true;
  }

  open(): void {
    this.scopeOpen = true;
    this.dirty = false;
  }

  close(): void {
    this.scopeOpen = false;
    this.dirty = false;
  }

  clear(): void {
    this.committed.clear();
  }

  private usable(): boolean {
    return this.scopeOpen ? !this.dirty : !this.sqlite.inTransaction;
  }
}
