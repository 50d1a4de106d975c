/**
 * RawNode: the driver's handle on a Raft node (etcd's shape). The driver calls tick/step/propose,
 * then, whenever hasReady(), takes one Ready, honours its contract, and calls advance():
 *
 *   1. send `messages` (they depend on nothing unpersisted) at any time;
 *   2. persist `snapshot`, `entries` (replacing any conflicting suffix) and `hardState`, and sync;
 *   3. only then send `messagesAfterPersist` (acknowledgements of what was just persisted);
 *   4. apply `snapshot` then `committedEntries` to the state machine, in order;
 *   5. call advance().
 *
 * Exactly one Ready is outstanding at a time: ready() may not be called again before advance().
 */
import type { RaftConfig } from "./config.js";
import { assert } from "./errors.js";
import { ready_committed_entries_bytes_max } from "./limits.js";
import { type BasicStatus, Raft, type RaftStatus } from "./raft.js";
import type { Storage } from "./storage.js";
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  ReadState,
  Snapshot,
  SoftState,
} from "./types.js";
import { hardStateEqual } from "./types.js";

/** What the driver must persist, send and apply, in the order of the RawNode contract. */
export interface Ready {
  /** The volatile role and leader, for the driver's information. */
  readonly softState: SoftState;
  /** Persist before sending messagesAfterPersist; null when unchanged. */
  readonly hardState: HardState | null;
  /** Persist (append, truncating any conflicting suffix) before sending messagesAfterPersist. */
  readonly entries: readonly Entry[];
  /** Persist, then apply, before the entries and committedEntries; null when none. */
  readonly snapshot: Snapshot | null;
  /** Apply in order after persisting. Conf change entries are informational (see README). */
  readonly committedEntries: readonly Entry[];
  /** May be sent at once. */
  readonly messages: readonly Message[];
  /** May be sent only after hardState, entries and snapshot are durable. */
  readonly messagesAfterPersist: readonly Message[];
  /** Answers to ReadIndex requests made on this node. */
  readonly readStates: readonly ReadState[];
}

/** Builds the Raft state machine of a node; fixtures pass subclasses with planted bugs. */
export type RaftFactory = (config: RaftConfig, storage: Storage) => Raft;

/** The default factory: the production Raft. */
export const createRaft: RaftFactory = (config, storage) => new Raft(config, storage);

/** The options of a RawNode. */
export interface RawNodeOptions {
  readonly config: RaftConfig;
  readonly storage: Storage;
  /** Defaults to the production Raft. */
  readonly raftFactory?: RaftFactory;
}

/** The driver-facing handle of one Raft node. */
export class RawNode {
  readonly raft: Raft;
  private previousHardState: HardState;
  private previousSoftState: SoftState;
  private outstanding: Ready | null = null;

  constructor(options: RawNodeOptions) {
    const factory = options.raftFactory ?? createRaft;
    this.raft = factory(options.config, options.storage);
    this.previousHardState = options.storage.initialState().hardState;
    this.previousSoftState = this.raft.softState();
  }

  /** Advances the logical clock by one tick. */
  tick(): void {
    this.raft.tick();
  }

  /** Hands a message from a peer to the state machine. */
  step(m: Message): void {
    this.raft.step(m);
  }

  /** Starts an election at once. */
  campaign(): void {
    this.raft.campaignNow();
  }

  /** Proposes data; returns the index it will commit at if this leader keeps its term. */
  propose(data: Uint8Array): { index: number; term: number } {
    const index = this.raft.propose(data);
    return { index, term: this.raft.term };
  }

  /** Proposes a single-server membership change. */
  proposeConfChange(change: ConfChange): { index: number; term: number } {
    const index = this.raft.proposeConfChange(change);
    return { index, term: this.raft.term };
  }

  /** Requests a linearizable read point, answered in a later Ready's readStates. */
  readIndex(context: string): void {
    this.raft.readIndex(context);
  }

  /** Asks the leader to transfer leadership to `to`. */
  transferLeader(to: string): void {
    this.raft.transferLeader(to);
  }

  /** Reports the outcome of sending a snapshot to `to`. */
  reportSnapshot(to: string, success: boolean): void {
    this.raft.reportSnapshot(to, success);
  }

  /** Reports that `to` could not be reached. */
  reportUnreachable(to: string): void {
    this.raft.reportUnreachable(to);
  }

  /** The configuration at an applied index, for the snapshot the driver takes there. */
  confStateAt(index: number): ConfState {
    return this.raft.confStateAt(index);
  }

  /** Whether there is anything to persist, send or apply. */
  hasReady(): boolean {
    if (this.outstanding !== null) return false;
    const raft = this.raft;
    const log = raft.log;
    const soft = raft.softState();
    return (
      raft.hasPendingProposals() ||
      raft.messages.length > 0 ||
      raft.messagesAfterPersist.length > 0 ||
      log.unstable.entries.length > 0 ||
      log.unstable.snapshot !== null ||
      raft.readStates.length > 0 ||
      !hardStateEqual(raft.hardState(), this.previousHardState) ||
      soft.lead !== this.previousSoftState.lead ||
      soft.role !== this.previousSoftState.role ||
      log.hasNextCommittedEntries()
    );
  }

  /** Takes what the driver must persist, send and apply now; advance() must follow. */
  ready(): Ready {
    assert(this.outstanding === null, "ready() called again before advance()");
    const raft = this.raft;
    raft.flushProposals();
    const hardState = raft.hardState();
    const ready: Ready = {
      softState: raft.softState(),
      hardState: hardStateEqual(hardState, this.previousHardState) ? null : hardState,
      entries: raft.log.unstable.entries.slice(),
      snapshot: raft.log.unstable.snapshot,
      committedEntries: raft.committedEntriesToApply(ready_committed_entries_bytes_max),
      messages: raft.messages,
      messagesAfterPersist: raft.messagesAfterPersist,
      readStates: raft.readStates,
    };
    raft.messages = [];
    raft.messagesAfterPersist = [];
    raft.readStates = [];
    this.previousHardState = hardState;
    this.previousSoftState = ready.softState;
    this.outstanding = ready;
    return ready;
  }

  /** The driver persisted, sent and applied the outstanding Ready. */
  advance(): void {
    const ready = this.outstanding;
    assert(ready !== null, "advance() without an outstanding Ready");
    this.outstanding = null;
    const lastEntry = ready.entries[ready.entries.length - 1];
    const snapshotIndex = ready.snapshot === null ? 0 : ready.snapshot.metadata.index;
    this.raft.onPersisted(snapshotIndex, lastEntry === undefined ? null : lastEntry);
    const lastApplied = ready.committedEntries[ready.committedEntries.length - 1];
    if (snapshotIndex > 0) this.raft.onApplied(snapshotIndex, []);
    if (lastApplied !== undefined) this.raft.onApplied(lastApplied.index, ready.committedEntries);
  }

  /** The node's state, for observers and tests. */
  status(): RaftStatus {
    return this.raft.status();
  }

  /** Term, leader, role, commit and last index: what a driver checks per message, without copies. */
  basicStatus(): BasicStatus {
    return this.raft.basicStatus();
  }
}
