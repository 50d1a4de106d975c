/**
 * Safety checkers, run by the cluster on every persist, apply and step. Each names the property of
 * the Raft paper (Figure 3) it checks. The first violation is kept; the run stops there.
 */
import type { Raft } from "../raft.js";
import type { Storage } from "../storage.js";
import type { Entry, Message, Snapshot } from "../types.js";
import { entryKey, StateMachine } from "./state-machine.js";

/** One broken property, with the step it was seen at. */
export interface Violation {
  readonly step: number;
  readonly invariant: string;
  readonly detail: string;
}

/** Watches every node of a cluster and records the first violation. */
export class Checker {
  violation: Violation | null = null;
  /**
   * Also check the two rules (commitment §5.4.2, persist before acknowledging) whose breach the other
   * checkers see only through its consequences; off, only outcomes are checked.
   */
  ruleChecks = true;
  step = 0;
  /** Election Safety: the leader of each term. */
  private readonly leaders = new Map<number, string>();
  /** Log Matching: the content and previous term of each (index, term) ever appended anywhere. */
  private readonly appended = new Map<string, { key: string; previousTerm: number | undefined }>();
  /** The term of every entry any node has considered committed. */
  private readonly committedTerms = new Map<number, number>();
  private readonly commitSeen = new Map<string, number>();
  /** The commit index of each leader at its previous step, to watch how it moves. */
  private readonly leaderCommits = new Map<string, { term: number; commit: number }>();
  /** State Machine Safety: the entry applied at each index, and the state hash after it. */
  private readonly appliedKeys = new Map<number, string>();
  private readonly appliedHashes = new Map<number, number>();

  /** How many terms had a leader. */
  leaderTerms(): number {
    return this.leaders.size;
  }

  fail(invariant: string, detail: string): void {
    if (this.violation === null) this.violation = { step: this.step, invariant, detail };
  }

  /**
   * Figure 2: persistent state is "updated on stable storage before responding to RPCs". When an
   * acknowledgement leaves a node, what it acknowledges must already be in that node's storage.
   */
  onSend(m: Message, durable: Storage): void {
    if (m.reject || !this.ruleChecks) return;
    const hardState = durable.initialState().hardState;
    // An acknowledgement waits in the Ready until its sync; meanwhile a leader of a later term may
    // have truncated the log. It was true when made, and the network may delay any message: only a
    // node still in the acknowledged term must still hold what it acknowledged.
    if (hardState.term > m.term) return;
    if (m.type === "appResp" && durable.lastIndex() < m.index) {
      this.fail(
        "Persist before acknowledging (Figure 2)",
        `${m.from} acknowledged ${m.index}, durable ${durable.lastIndex()}`,
      );
    } else if (m.type === "voteResp") {
      if (hardState.term < m.term || hardState.vote !== m.to) {
        this.fail(
          "Persist before acknowledging (Figure 2)",
          `${m.from} granted ${m.to} term ${m.term} before persisting`,
        );
      }
    }
  }

  /**
   * Log Matching (§5.3) on every persist, and no committed entry lost: an entry that a node holds
   * durably and that is committed is never replaced. (A stale leader may still append its own entries
   * at indexes it never held: those are not losses.)
   */
  onPersist(raft: Raft, durable: Storage, entries: readonly Entry[]): void {
    for (const entry of entries) {
      const slot = entry.index + "@" + entry.term;
      const key = entryKey(entry);
      const previousTerm = raft.log.termAt(entry.index - 1);
      const seen = this.appended.get(slot);
      if (seen === undefined) this.appended.set(slot, { key, previousTerm });
      else if (seen.key !== key) {
        this.fail("Log Matching §5.3", `${raft.id}: two entries at index ${entry.index} term ${entry.term}`);
      } else if (
        previousTerm !== undefined &&
        seen.previousTerm !== undefined &&
        seen.previousTerm !== previousTerm
      ) {
        this.fail(
          "Log Matching §5.3",
          `${raft.id}: entry ${entry.index}@${entry.term} follows different terms`,
        );
      }
      const committedTerm = this.committedTerms.get(entry.index);
      if (
        committedTerm !== undefined &&
        committedTerm !== entry.term &&
        durableTerm(durable, entry.index) === committedTerm
      ) {
        this.fail(
          "Committed entry lost",
          `${raft.id}: committed ${entry.index}@${committedTerm} overwritten`,
        );
      }
    }
  }

  /** State Machine Safety (§5.4.3): apply only committed entries, the same at each index everywhere. */
  onApply(raft: Raft, entry: Entry, machine: StateMachine): void {
    if (entry.index > raft.log.committed) {
      this.fail(
        "Apply only committed entries §5.3",
        `${raft.id}: applied ${entry.index} > commit ${raft.log.committed}`,
      );
    }
    const key = entryKey(entry);
    const seen = this.appliedKeys.get(entry.index);
    if (seen === undefined) this.appliedKeys.set(entry.index, key);
    else if (seen !== key)
      this.fail("State Machine Safety §5.4.3", `${raft.id}: index ${entry.index} ${key} vs ${seen}`);
    this.checkHash(raft.id, machine.appliedIndex, machine.hash);
  }

  /** A snapshot installed on a node must be the state every node reached at its index. */
  onSnapshotApplied(nodeId: string, snapshot: Snapshot): void {
    const machine = StateMachine.decode(snapshot.data);
    if (machine.appliedIndex !== snapshot.metadata.index) {
      this.fail(
        "Snapshot consistency",
        `${nodeId}: snapshot at ${snapshot.metadata.index} holds state ${machine.appliedIndex}`,
      );
    }
    this.checkHash(nodeId, machine.appliedIndex, machine.hash);
  }

  private checkHash(nodeId: string, index: number, hash: number): void {
    const seen = this.appliedHashes.get(index);
    if (seen === undefined) this.appliedHashes.set(index, hash);
    else if (seen !== hash)
      this.fail("State Machine Safety §5.4.3", `${nodeId}: state differs after index ${index}`);
  }

  /** After each step: Election Safety, commit registry, Leader Completeness. */
  afterStep(nodes: readonly Raft[]): void {
    for (const raft of nodes) {
      this.recordCommits(raft);
      if (raft.role !== "leader") continue;
      if (this.ruleChecks) this.checkCommitRule(raft);
      const leader = this.leaders.get(raft.term);
      if (leader === undefined) {
        this.leaders.set(raft.term, raft.id);
        this.checkLeaderCompleteness(raft);
      } else if (leader !== raft.id) {
        this.fail("Election Safety §5.2", `term ${raft.term} has two leaders: ${leader} and ${raft.id}`);
      }
    }
  }

  /**
   * §5.4.2: "Raft never commits log entries from previous terms by counting replicas." While a node
   * leads a term, each move of its commit index must land on an entry of that term.
   */
  private checkCommitRule(raft: Raft): void {
    const committed = raft.log.committed;
    const previous = this.leaderCommits.get(raft.id);
    this.leaderCommits.set(raft.id, { term: raft.term, commit: committed });
    if (previous === undefined || previous.term !== raft.term || committed <= previous.commit) return;
    const term = raft.log.termAt(committed);
    if (term !== raft.term) {
      this.fail(
        "Commitment rule §5.4.2",
        `${raft.id} leading term ${raft.term} committed ${committed}@${term}`,
      );
    }
  }

  private recordCommits(raft: Raft): void {
    const seen = this.commitSeen.get(raft.id) ?? 0;
    const committed = raft.log.committed;
    if (committed <= seen) return;
    this.commitSeen.set(raft.id, committed);
    for (let index = Math.max(seen + 1, raft.log.firstIndex()); index <= committed; index++) {
      const term = raft.log.termAt(index);
      if (term === undefined) continue;
      const known = this.committedTerms.get(index);
      if (known === undefined) this.committedTerms.set(index, term);
      else if (known !== term) {
        this.fail(
          "State Machine Safety §5.4.3",
          `${raft.id}: committed ${index}@${term}, elsewhere @${known}`,
        );
      }
    }
  }

  /** Leader Completeness (§5.4): a new leader holds every entry committed before its term. */
  private checkLeaderCompleteness(raft: Raft): void {
    for (const [index, term] of this.committedTerms) {
      if (index < raft.log.firstIndex()) continue;
      const ours = raft.log.termAt(index);
      if (ours !== term) {
        this.fail(
          "Leader Completeness §5.4",
          `${raft.id} leads term ${raft.term} without committed ${index}@${term}`,
        );
        return;
      }
    }
  }
}

function durableTerm(storage: Storage, index: number): number | undefined {
  if (index < storage.firstIndex() || index > storage.lastIndex()) return undefined;
  return storage.term(index);
}
