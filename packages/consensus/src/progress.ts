/**
 * The leader's view of each follower: how far its log matches, what to send next, and how much is in
 * flight. Probe sends one append at a time until a match is found; replicate streams appends within
 * an in-flight window bounded by count and bytes; snapshot waits for a snapshot to be installed.
 */
import { assert } from "./errors.js";

/** How the leader is currently replicating to one follower. */
export type ProgressState = "probe" | "replicate" | "snapshot";

/** Freed slots at the head of the window before its arrays are compacted (amortizes the copy). */
const freed_slots_compact_min = 64;

/** A window of in-flight appends, each remembered by its last index and size. */
export class Inflights {
  private readonly indexes: number[] = [];
  private readonly sizes: number[] = [];
  private start = 0;
  private bytes = 0;
  private readonly countMax: number;
  private readonly bytesMax: number;

  constructor(countMax: number, bytesMax: number) {
    this.countMax = countMax;
    this.bytesMax = bytesMax;
  }

  count(): number {
    return this.indexes.length - this.start;
  }

  full(): boolean {
    return this.count() >= this.countMax || this.bytes >= this.bytesMax;
  }

  add(lastIndex: number, sizeBytes: number): void {
    assert(!this.full(), "inflights: add to a full window");
    const previous = this.indexes[this.indexes.length - 1];
    assert(previous === undefined || this.count() === 0 || previous < lastIndex, "inflights out of order");
    this.indexes.push(lastIndex);
    this.sizes.push(sizeBytes);
    this.bytes += sizeBytes;
  }

  /** Frees every append whose last index is at or below `index`. */
  freeLE(index: number): void {
    while (this.start < this.indexes.length && (this.indexes[this.start] as number) <= index) {
      this.bytes -= this.sizes[this.start] as number;
      this.start++;
    }
    if (this.start > freed_slots_compact_min && this.start * 2 > this.indexes.length) {
      this.indexes.splice(0, this.start);
      this.sizes.splice(0, this.start);
      this.start = 0;
    }
  }

  /** Frees the oldest append: a heartbeat answered, so the window must not stay stuck on lost appends. */
  freeFirstOne(): void {
    const first = this.indexes[this.start];
    if (first !== undefined) this.freeLE(first);
  }

  reset(): void {
    this.indexes.length = 0;
    this.sizes.length = 0;
    this.start = 0;
    this.bytes = 0;
  }
}

/** Replication progress of one follower (or the leader itself), as the leader sees it. */
export class Progress {
  match = 0;
  next: number;
  state: ProgressState = "probe";
  /** In probe: an append is outstanding, so wait for its answer or a heartbeat response. */
  probeSent = false;
  /** In snapshot: the index of the snapshot sent. */
  pendingSnapshot = 0;
  /** In snapshot: election timeouts since the snapshot was sent (a lost snapshot is retried). */
  snapshotTicks = 0;
  /** The follower answered since the last CheckQuorum round. */
  recentActive = false;
  isLearner: boolean;
  readonly inflights: Inflights;

  constructor(options: {
    next: number;
    isLearner: boolean;
    inflightCountMax: number;
    inflightBytesMax: number;
  }) {
    this.next = options.next;
    this.isLearner = options.isLearner;
    this.inflights = new Inflights(options.inflightCountMax, options.inflightBytesMax);
  }

  becomeProbe(): void {
    if (this.state === "snapshot") {
      this.next = Math.max(this.match + 1, this.pendingSnapshot + 1);
    } else {
      this.next = this.match + 1;
    }
    this.resetState("probe");
  }

  becomeReplicate(): void {
    this.next = this.match + 1;
    this.resetState("replicate");
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState("snapshot");
    this.pendingSnapshot = snapshotIndex;
  }

  /** The follower acknowledged entries up to index; returns whether match moved. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * The follower rejected an append at `rejected`, and its log ends at `hint`. Returns whether the
   * rejection was current (a stale one changes nothing).
   */
  maybeDecreaseTo(rejected: number, hint: number): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Records an append sent with entries up to lastIndex (none if lastIndex < next). */
  sentEntries(lastIndex: number, sizeBytes: number, count: number): void {
    if (this.state === "replicate") {
      if (count > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, sizeBytes);
      }
    } else if (this.state === "probe") {
      this.probeSent = true;
    }
  }

  isPaused(): boolean {
    if (this.state === "probe") return this.probeSent;
    if (this.state === "replicate") return this.inflights.full();
    return true;
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotTicks = 0;
    this.state = state;
    this.inflights.reset();
  }
}
