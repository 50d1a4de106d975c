/**
 * The Raft algorithm as a pure state machine: ticks, messages and proposals in; log changes, hard
 * state and messages out (collected by RawNode into a Ready). No I/O, no clock, no randomness except
 * the seeded election jitter. Section numbers cite Ongaro & Ousterhout, "In Search of an
 * Understandable Consensus Algorithm" (§5, §6), and Ongaro's thesis (§4 membership, §6 reads, §9.6 PreVote).
 *
 * Methods are small and protected so that the planted-bug fixtures can override exactly one of them.
 */
import type { RaftConfig } from "./config.js";
import { validateRaftConfig } from "./config.js";
import { assert, RaftError } from "./errors.js";
import {
  outbox_messages_max,
  proposal_bytes_max,
  read_index_requests_max,
  read_states_max,
  snapshot_wait_election_timeouts_max,
} from "./limits.js";
import { RaftLog } from "./log.js";
import type { ConfPoint } from "./membership.js";
import { applyConfChange, validateConfChange } from "./membership.js";
import { Prng } from "./prng.js";
import { Progress } from "./progress.js";
import type { Storage } from "./storage.js";
import { entrySizeBytes } from "./storage.js";
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  MessageType,
  NodeId,
  ReadState,
  Role,
  SoftState,
} from "./types.js";
import { decodeConfChange, encodeConfChange, message, NO_NODE } from "./types.js";

/** A ReadIndex request waiting for a quorum to confirm the leader (thesis §6.4). */
interface PendingRead {
  readonly index: number;
  readonly context: string;
  readonly from: NodeId;
  readonly acks: Set<NodeId>;
}

/** What the leader tells about a peer, for status(). */
export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: string;
  readonly isLearner: boolean;
}

/** A snapshot of a node's state for observers and tests. */
/** The few fields a driver reads per message (RawNode.basicStatus). */
export interface BasicStatus {
  readonly term: number;
  readonly lead: NodeId;
  readonly role: Role;
  readonly commit: number;
  readonly lastIndex: number;
  readonly leadTransferee: NodeId;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly role: Role;
  readonly lead: NodeId;
  readonly leadTransferee: NodeId;
  readonly confState: ConfState;
  readonly progress: ReadonlyMap<NodeId, ProgressStatus>;
}

/** The Raft state machine of one node. */
export class Raft {
  readonly id: NodeId;
  readonly log: RaftLog;
  term = 0;
  vote: NodeId = NO_NODE;
  role: Role = "follower";
  lead: NodeId = NO_NODE;
  leadTransferee: NodeId = NO_NODE;

  /** Messages the driver may send at once. */
  messages: Message[] = [];
  /** Messages the driver may send only after persisting the state handed out with them. */
  messagesAfterPersist: Message[] = [];
  readStates: ReadState[] = [];

  protected readonly config: RaftConfig;
  protected readonly prng: Prng;
  protected voters = new Set<NodeId>();
  protected learners = new Set<NodeId>();
  protected readonly progress = new Map<NodeId, Progress>();
  protected readonly votes = new Map<NodeId, boolean>();
  /** Configurations still in the log: [0] is the snapshot's, then one per conf change entry. */
  protected confHistory: ConfPoint[];
  protected pendingReads: PendingRead[] = [];
  protected electionElapsed = 0;
  protected heartbeatElapsed = 0;
  protected randomizedElectionTimeout = 0;
  protected uncommittedBytes = 0;
  /** Proposals were appended since the last flushProposals(). */
  protected proposalsPending = false;

  constructor(config: RaftConfig, storage: Storage) {
    validateRaftConfig(config);
    this.config = config;
    this.id = config.id;
    this.prng = new Prng(config.seed);
    this.log = new RaftLog(storage);
    const { hardState, confState } = storage.initialState();
    const snapshotIndex = storage.firstIndex() - 1;
    this.confHistory = [{ index: snapshotIndex, confState: normalize(confState) }];
    this.recordConfEntries(storage.entries(snapshotIndex + 1, storage.lastIndex() + 1, Infinity));
    this.loadHardState(hardState);
    this.setConfiguration(this.confState());
    this.becomeFollower(this.term, NO_NODE);
  }

  // ---- Inputs ---------------------------------------------------------------------------------

  /** Advances the logical clock by one tick. */
  tick(): void {
    if (this.role === "leader") this.tickHeartbeat();
    else this.tickElection();
  }

  /** Handles one message from a peer (or a local ReadIndex request). */
  step(m: Message): void {
    assert(m.to === this.id, "message delivered to the wrong node");
    if (m.term > this.term) {
      if (!this.stepHigherTerm(m)) return;
    } else if (m.term < this.term) {
      this.stepLowerTerm(m);
      return;
    }
    if (m.type === "preVote" || m.type === "vote") {
      this.handleVoteRequest(m);
      return;
    }
    if (this.role === "leader") this.stepLeader(m);
    else if (this.role === "follower") this.stepFollower(m);
    else this.stepCandidate(m);
  }

  /** Starts an election now (as if the election timeout had elapsed). */
  campaignNow(): void {
    this.hup(false);
  }

  /**
   * Appends a normal entry; only a leader accepts it. Returns its index. Proposals are batched: the
   * appends that carry them leave when the driver next takes a Ready (see flushProposals).
   */
  propose(data: Uint8Array): number {
    this.checkCanPropose(data.byteLength);
    const index = this.appendEntry({ type: "normal", data });
    this.proposalsPending = true;
    return index;
  }

  /** Sends the appends for every proposal since the last call: one message per follower, not per proposal. */
  flushProposals(): void {
    if (!this.proposalsPending) return;
    this.proposalsPending = false;
    if (this.role !== "leader") return;
    for (const id of this.progress.keys()) if (id !== this.id) this.sendAppend(id, false);
  }

  /** Whether proposals wait for flushProposals(). */
  hasPendingProposals(): boolean {
    return this.proposalsPending;
  }

  /** Appends a membership change; one at a time, and only once the leader committed in its term. */
  proposeConfChange(change: ConfChange): number {
    this.checkCanPropose(0);
    if (this.lastConfIndex() > this.log.committed || !this.committedInCurrentTerm()) {
      throw new RaftError(
        "CONF_CHANGE_PENDING",
        "wait until the previous change and a current-term entry commit",
      );
    }
    validateConfChange(this.confState(), change);
    return this.appendAndSend({ type: "confChange", data: encodeConfChange(change) });
  }

  /** Asks the leader to hand leadership to a voter (thesis §3.10). */
  transferLeader(to: NodeId): void {
    if (this.role !== "leader") throw new RaftError("NOT_LEADER", "only the leader transfers leadership");
    if (to === this.id || !this.voters.has(to) || this.leadTransferee === to) return;
    this.leadTransferee = to;
    this.electionElapsed = 0;
    const progress = this.progress.get(to) as Progress;
    if (progress.match === this.log.lastIndex()) {
      this.send(message({ type: "timeoutNow", from: this.id, to, term: this.term }));
    } else {
      this.sendAppend(to, true);
    }
  }

  /** Requests a linearizable read point; the answer arrives as a ReadState (thesis §6.4). */
  readIndex(context: string): void {
    const local = message({ type: "readIndex", from: this.id, to: this.id, term: this.term, context });
    if (this.role === "leader") this.handleReadIndex(local);
    else if (this.lead !== NO_NODE) this.send({ ...local, to: this.lead });
  }

  /** The driver learned that a snapshot send to `to` failed or finished. */
  reportSnapshot(to: NodeId, success: boolean): void {
    const progress = this.progress.get(to);
    if (this.role !== "leader" || progress === undefined || progress.state !== "snapshot") return;
    if (!success) progress.pendingSnapshot = 0;
    progress.becomeProbe();
    progress.probeSent = true;
  }

  /** The driver could not reach `to`: fall back to probing it. */
  reportUnreachable(to: NodeId): void {
    const progress = this.progress.get(to);
    if (this.role === "leader" && progress !== undefined && progress.state === "replicate")
      progress.becomeProbe();
  }

  /** The driver persisted a Ready's snapshot and entries. */
  onPersisted(snapshotIndex: number, last: { index: number; term: number } | null): void {
    if (snapshotIndex > 0) this.log.unstable.stableSnapshotTo(snapshotIndex);
    if (last !== null) this.log.unstable.stableTo(last.index, last.term);
    if (this.role !== "leader") return;
    const self = this.progress.get(this.id);
    if (self?.maybeUpdate(this.log.stableLastIndex()) && this.maybeCommit()) {
      this.afterCommit();
    }
  }

  /** The driver applied committed entries (or a snapshot) up to index. */
  onApplied(index: number, entries: readonly Entry[]): void {
    this.log.appliedTo(index);
    if (this.role === "leader") {
      let bytes = 0;
      for (const entry of entries) bytes += entry.data.byteLength;
      this.uncommittedBytes = Math.max(0, this.uncommittedBytes - bytes);
    }
    while (this.confHistory.length > 1 && (this.confHistory[1] as ConfPoint).index <= index) {
      this.confHistory.shift();
    }
  }

  /** The committed entries the driver should apply next. */
  committedEntriesToApply(maxBytes: number): Entry[] {
    return this.log.nextCommittedEntries(maxBytes);
  }

  // ---- Outputs and observers --------------------------------------------------------------------

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  softState(): SoftState {
    return { lead: this.lead, role: this.role };
  }

  /** The configuration in force (the last one in the log). */
  confState(): ConfState {
    return (this.confHistory[this.confHistory.length - 1] as ConfPoint).confState;
  }

  /**
   * The configuration in force at an index at or after the last applied one (for snapshots); throws
   * SNAPSHOT_OUT_OF_DATE if the node meanwhile received a newer snapshot.
   */
  confStateAt(index: number): ConfState {
    if (index < (this.confHistory[0] as ConfPoint).index) {
      throw new RaftError("SNAPSHOT_OUT_OF_DATE", `index ${index} precedes the latest snapshot`);
    }
    let result = (this.confHistory[0] as ConfPoint).confState;
    for (const point of this.confHistory) if (point.index <= index) result = point.confState;
    return result;
  }

  /** Whether this node may campaign: it is a voter in its configuration. */
  promotable(): boolean {
    return this.voters.has(this.id);
  }

  /** Term, leader, role and log indices without copying progress or configuration (cheap, per message). */
  basicStatus(): BasicStatus {
    return {
      term: this.term,
      lead: this.lead,
      role: this.role,
      commit: this.log.committed,
      lastIndex: this.log.lastIndex(),
      leadTransferee: this.leadTransferee,
    };
  }

  status(): RaftStatus {
    const progress = new Map<NodeId, ProgressStatus>();
    for (const [id, pr] of this.progress) {
      progress.set(id, { match: pr.match, next: pr.next, state: pr.state, isLearner: pr.isLearner });
    }
    return {
      id: this.id,
      term: this.term,
      vote: this.vote,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      role: this.role,
      lead: this.lead,
      leadTransferee: this.leadTransferee,
      confState: this.confState(),
      progress,
    };
  }

  // ---- Role changes -----------------------------------------------------------------------------

  protected becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.role = "follower";
    this.lead = lead;
  }

  protected becomePreCandidate(): void {
    assert(this.role !== "leader", "a leader cannot become a pre-candidate");
    this.votes.clear();
    this.role = "preCandidate";
    this.lead = NO_NODE;
  }

  protected becomeCandidate(): void {
    assert(this.role !== "leader", "a leader cannot become a candidate");
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = "candidate";
  }

  protected becomeLeader(): void {
    assert(this.role === "candidate", "only a candidate becomes leader");
    this.reset(this.term);
    this.role = "leader";
    this.lead = this.id;
    const self = this.progress.get(this.id);
    if (self !== undefined) {
      self.maybeUpdate(this.log.stableLastIndex());
      self.becomeReplicate();
      self.recentActive = true;
    }
    // An empty entry of the new term lets earlier entries commit (§5.4.2, Figure 8).
    this.appendEntry({ type: "normal", data: new Uint8Array(0) });
    this.bcastAppend();
  }

  protected reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = NO_NODE;
    }
    this.lead = NO_NODE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.config.electionTicks + this.prng.int(0, this.config.electionTicks);
    this.leadTransferee = NO_NODE;
    this.votes.clear();
    this.pendingReads = [];
    this.uncommittedBytes = 0;
    const next = this.log.lastIndex() + 1;
    for (const [id, pr] of this.progress) {
      this.progress.set(id, this.newProgress(next, pr.isLearner));
    }
  }

  // ---- Timers -------------------------------------------------------------------------------------

  protected tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  protected tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.config.electionTicks) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, NO_NODE);
        return;
      }
      this.leadTransferee = NO_NODE;
      this.retryStalledSnapshots();
    }
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat("");
    }
  }

  /** CheckQuorum (§6.2 of the thesis): did a quorum of voters answer since the last round? */
  protected quorumActive(): boolean {
    let active = 0;
    for (const [id, pr] of this.progress) {
      if (this.voters.has(id) && (id === this.id || pr.recentActive)) active++;
      if (id !== this.id) pr.recentActive = false;
    }
    return active >= this.quorum();
  }

  protected retryStalledSnapshots(): void {
    for (const pr of this.progress.values()) {
      if (pr.state !== "snapshot") continue;
      pr.snapshotTicks++;
      if (pr.snapshotTicks < snapshot_wait_election_timeouts_max) continue;
      // No answer for a whole election timeout: assume the snapshot was lost and probe afresh.
      pr.pendingSnapshot = 0;
      pr.becomeProbe();
    }
  }

  // ---- Elections (§5.2, PreVote thesis §9.6) -----------------------------------------------------

  protected hup(transfer: boolean): void {
    if (this.role === "leader" || !this.promotable()) return;
    if (this.config.preVote && !transfer) this.campaign("preVote", false);
    else this.campaign("vote", transfer);
  }

  protected campaign(kind: "preVote" | "vote", transfer: boolean): void {
    let term: number;
    if (kind === "preVote") {
      this.becomePreCandidate();
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      term = this.term;
    }
    if (this.poll(this.id, true) === "won") {
      this.onElectionWon();
      return;
    }
    const index = this.log.lastIndex();
    const logTerm = this.log.lastTerm();
    for (const id of this.voters) {
      if (id === this.id) continue;
      this.send(message({ type: kind, from: this.id, to: id, term, index, logTerm, transfer }));
    }
  }

  /** Records a vote and tells whether the election is won, lost or still open. */
  protected poll(from: NodeId, granted: boolean): "won" | "lost" | "pending" {
    if (!this.votes.has(from)) this.votes.set(from, granted);
    let yes = 0;
    let no = 0;
    for (const id of this.voters) {
      const vote = this.votes.get(id);
      if (vote === true) yes++;
      else if (vote === false) no++;
    }
    const quorum = this.quorum();
    if (yes >= quorum) return "won";
    if (this.voters.size - no < quorum) return "lost";
    return "pending";
  }

  protected onElectionWon(): void {
    if (this.role === "preCandidate") this.campaign("vote", false);
    else this.becomeLeader();
  }

  protected handleVoteRequest(m: Message): void {
    const responseType = m.type === "vote" ? "voteResp" : "preVoteResp";
    if (this.canGrantVote(m)) {
      this.send(message({ type: responseType, from: this.id, to: m.from, term: m.term }));
      if (m.type === "vote") {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send(message({ type: responseType, from: this.id, to: m.from, term: this.term, reject: true }));
    }
  }

  /**
   * Election Safety (§5.2): at most one vote per term, and only for a log at least as up to date as
   * ours (§5.4.1). A pre-vote for a future term changes nothing, so it may be granted freely.
   */
  protected canGrantVote(m: Message): boolean {
    const canVote =
      this.vote === m.from ||
      (this.vote === NO_NODE && this.lead === NO_NODE) ||
      (m.type === "preVote" && m.term > this.term);
    return canVote && this.log.isUpToDate(m.index, m.logTerm);
  }

  /** Handles a message of a higher term; returns whether to go on processing it. */
  protected stepHigherTerm(m: Message): boolean {
    if (m.type === "preVote" || m.type === "vote") {
      // Leader stickiness (thesis §4.2.3): while a leader is heard from, ignore campaigns.
      const inLease =
        this.config.checkQuorum && this.lead !== NO_NODE && this.electionElapsed < this.config.electionTicks;
      if (inLease && !m.transfer) return false;
    }
    if (m.type === "preVote") return true;
    if (m.type === "preVoteResp" && !m.reject) return true;
    const fromLeader = m.type === "app" || m.type === "heartbeat" || m.type === "snap";
    this.becomeFollower(m.term, fromLeader ? m.from : NO_NODE);
    return true;
  }

  protected stepLowerTerm(m: Message): void {
    if ((this.config.checkQuorum || this.config.preVote) && (m.type === "heartbeat" || m.type === "app")) {
      // A stale leader learns our term and steps down, instead of being ignored forever.
      this.send(message({ type: "appResp", from: this.id, to: m.from, term: this.term }));
    } else if (m.type === "preVote") {
      this.send(message({ type: "preVoteResp", from: this.id, to: m.from, term: this.term, reject: true }));
    }
  }

  // ---- Role-specific steps -------------------------------------------------------------------------

  protected stepFollower(m: Message): void {
    switch (m.type) {
      case "app":
        this.heardFromLeader(m.from);
        this.handleAppendEntries(m);
        return;
      case "heartbeat":
        this.heardFromLeader(m.from);
        this.handleHeartbeat(m);
        return;
      case "snap":
        this.heardFromLeader(m.from);
        this.handleSnapshot(m);
        return;
      case "timeoutNow":
        this.hup(true);
        return;
      case "readIndex":
        if (this.lead !== NO_NODE) this.send({ ...m, to: this.lead });
        return;
      case "readIndexResp":
        this.pushReadState({ index: m.index, context: m.context });
        return;
      default:
        return;
    }
  }

  protected stepCandidate(m: Message): void {
    switch (m.type) {
      case "app":
      case "heartbeat":
      case "snap":
        this.becomeFollower(m.term, m.from);
        this.stepFollower(m);
        return;
      case "preVoteResp":
      case "voteResp": {
        if ((m.type === "voteResp") !== (this.role === "candidate")) return;
        const outcome = this.poll(m.from, !m.reject);
        if (outcome === "won") this.onElectionWon();
        else if (outcome === "lost") this.becomeFollower(this.term, NO_NODE);
        return;
      }
      default:
        return;
    }
  }

  protected stepLeader(m: Message): void {
    switch (m.type) {
      case "appResp":
        this.handleAppendResponse(m);
        return;
      case "heartbeatResp":
        this.handleHeartbeatResponse(m);
        return;
      case "readIndex":
        this.handleReadIndex(m);
        return;
      default:
        return;
    }
  }

  protected heardFromLeader(lead: NodeId): void {
    this.electionElapsed = 0;
    this.lead = lead;
  }

  // ---- Log replication: follower side (§5.3) -------------------------------------------------------

  protected handleAppendEntries(m: Message): void {
    if (m.index < this.log.committed) {
      this.sendAppendResponse(m.from, { index: this.log.committed, reject: false });
      return;
    }
    if (!this.matchesPrevious(m.index, m.logTerm)) {
      const hint = Math.min(m.index, this.log.lastIndex());
      this.sendAppendResponse(m.from, { index: m.index, reject: true, hint });
      return;
    }
    const lastNew = m.index + m.entries.length;
    const conflict = this.log.findConflict(m.entries);
    if (conflict !== 0) {
      assert(conflict > this.log.committed, "Log Matching: a leader's entry conflicts with a committed one");
      this.appendToLog(m.entries.slice(conflict - (m.index + 1)));
    }
    this.log.commitTo(Math.min(m.commit, lastNew));
    this.sendAppendResponse(m.from, { index: lastNew, reject: false });
  }

  /**
   * Log Matching (§5.3): a follower accepts entries only after the entry that precedes them, with
   * the same index and term, is in its log.
   */
  protected matchesPrevious(index: number, term: number): boolean {
    return this.log.matchTerm(index, term);
  }

  protected sendAppendResponse(to: NodeId, answer: { index: number; reject: boolean; hint?: number }): void {
    const hint = answer.hint ?? 0;
    this.send(
      message({
        type: "appResp",
        from: this.id,
        to,
        term: this.term,
        index: answer.index,
        reject: answer.reject,
        rejectHint: hint,
      }),
    );
  }

  protected handleHeartbeat(m: Message): void {
    this.log.commitTo(m.commit);
    this.send(
      message({ type: "heartbeatResp", from: this.id, to: m.from, term: this.term, context: m.context }),
    );
  }

  protected handleSnapshot(m: Message): void {
    const snapshot = m.snapshot;
    assert(snapshot !== null, "a snap message carries a snapshot");
    const { index, term, confState } = snapshot.metadata;
    if (index <= this.log.committed) {
      this.sendAppendResponse(m.from, { index: this.log.committed, reject: false });
      return;
    }
    if (this.log.matchTerm(index, term)) {
      // Our log already holds the snapshot's last entry: keep the log and commit to it (§7). Only
      // that prefix is known to match the leader's: what follows may be another leader's entries.
      this.log.commitTo(index);
      this.sendAppendResponse(m.from, { index, reject: false });
      return;
    }
    this.log.restore(snapshot);
    this.confHistory = [{ index, confState: normalize(confState) }];
    this.setConfiguration(this.confState());
    this.sendAppendResponse(m.from, { index: this.log.lastIndex(), reject: false });
  }

  // ---- Log replication: leader side ---------------------------------------------------------------

  protected handleAppendResponse(m: Message): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    if (m.reject) {
      if (pr.maybeDecreaseTo(m.index, m.rejectHint)) {
        if (pr.state === "replicate") pr.becomeProbe();
        this.sendAppend(m.from, true);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) {
      if (wasPaused && !pr.isPaused()) this.sendAppend(m.from, false);
      return;
    }
    if (pr.state === "probe") pr.becomeReplicate();
    else if (pr.state === "snapshot" && pr.match >= pr.pendingSnapshot) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === "replicate") pr.inflights.freeLE(m.index);
    if (this.maybeCommit()) this.afterCommit();
    else if (wasPaused) this.sendAppend(m.from, true);
    while (this.role === "leader" && this.sendAppend(m.from, false)) {
      // Keep the follower's window full (flow control bounds this loop).
    }
    if (this.role === "leader" && m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.send(message({ type: "timeoutNow", from: this.id, to: m.from, term: this.term }));
    }
  }

  protected handleHeartbeatResponse(m: Message): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    pr.probeSent = false;
    // Appends may have been lost: free one slot so that the next append reveals the gap.
    if (pr.state === "replicate" && pr.inflights.full()) pr.inflights.freeFirstOne();
    // Send even an empty append: if earlier appends were lost, its rejection restarts probing.
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from, true);
    if (m.context !== "") this.ackRead(m.from, m.context);
  }

  /**
   * Leader Completeness rests on this (§5.4.2): a leader commits by counting replicas only entries of
   * its own term; earlier entries commit indirectly with them (Figure 8).
   */
  protected maybeCommit(): boolean {
    const index = this.quorumMatchIndex();
    if (index <= this.log.committed) return false;
    if (this.log.termAt(index) !== this.term) return false;
    this.log.commitTo(index);
    return true;
  }

  /** After the commit index moved: tell followers, and step down if this leader was removed. */
  protected afterCommit(): void {
    this.bcastAppend();
    if (!this.voters.has(this.id) && this.log.committed >= this.lastConfIndex()) {
      // The change that removed this leader is committed: hand over and step down (thesis §4.2.2).
      const successor = this.mostUpToDateVoter();
      if (successor !== NO_NODE)
        this.send(message({ type: "timeoutNow", from: this.id, to: successor, term: this.term }));
      this.becomeFollower(this.term, NO_NODE);
    }
  }

  /** The highest index replicated (durably) on a quorum of voters. */
  protected quorumMatchIndex(): number {
    const matches: number[] = [];
    for (const id of this.voters) matches.push(this.progress.get(id)?.match ?? 0);
    matches.sort((a, b) => b - a);
    return matches[this.quorum() - 1] ?? 0;
  }

  protected mostUpToDateVoter(): NodeId {
    let best: NodeId = NO_NODE;
    let bestMatch = -1;
    for (const id of this.voters) {
      const match = this.progress.get(id)?.match ?? 0;
      if (id !== this.id && match > bestMatch) {
        best = id;
        bestMatch = match;
      }
    }
    return bestMatch === this.log.lastIndex() ? best : NO_NODE;
  }

  protected bcastAppend(): void {
    for (const id of this.progress.keys()) if (id !== this.id) this.sendAppend(id, true);
  }

  protected bcastHeartbeat(context: string): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      const commit = Math.min(pr.match, this.log.committed);
      this.send(message({ type: "heartbeat", from: this.id, to: id, term: this.term, commit, context }));
    }
  }

  /** Sends the next append (or a snapshot) to a follower unless flow control pauses it. */
  protected sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.termAt(prevIndex);
    if (prevTerm === undefined || pr.next < this.log.firstIndex()) return this.sendSnapshot(to, pr);
    const entries = this.log.slice(pr.next, this.log.lastIndex() + 1, this.config.maxSizePerMsg);
    if (entries.length === 0 && !sendIfEmpty) return false;
    let bytes = 0;
    for (const entry of entries) bytes += entrySizeBytes(entry);
    this.send(
      message({
        type: "app",
        from: this.id,
        to: to,
        term: this.term,
        index: prevIndex,
        logTerm: prevTerm,
        entries,
        commit: this.log.committed,
      }),
    );
    pr.sentEntries(prevIndex + entries.length, bytes, entries.length);
    return true;
  }

  protected sendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) return false;
    let snapshot: ReturnType<RaftLog["snapshot"]>;
    try {
      snapshot = this.log.snapshot();
    } catch (error) {
      if (error instanceof RaftError && error.code === "SNAPSHOT_TEMPORARILY_UNAVAILABLE") return false;
      throw error;
    }
    assert(snapshot.metadata.index >= this.log.firstIndex() - 1, "snapshot older than the log");
    pr.becomeSnapshot(snapshot.metadata.index);
    this.send(message({ type: "snap", from: this.id, to: to, term: this.term, snapshot }));
    return true;
  }

  // ---- ReadIndex (thesis §6.4) ---------------------------------------------------------------------

  protected handleReadIndex(m: Message): void {
    // A new leader learns the commit index only once an entry of its term commits.
    if (!this.committedInCurrentTerm()) return;
    const read: PendingRead = {
      index: this.log.committed,
      context: m.context,
      from: m.from,
      acks: new Set([this.id]),
    };
    if (this.quorum() <= 1) {
      this.answerRead(read);
      return;
    }
    if (this.pendingReads.length >= read_index_requests_max) return;
    this.pendingReads.push(read);
    this.bcastHeartbeat(m.context);
  }

  protected ackRead(from: NodeId, context: string): void {
    const position = this.pendingReads.findIndex((read) => read.context === context);
    if (position < 0) return;
    const read = this.pendingReads[position] as PendingRead;
    if (this.voters.has(from)) read.acks.add(from);
    let acks = 0;
    for (const id of read.acks) if (this.voters.has(id)) acks++;
    if (acks < this.quorum()) return;
    // A quorum confirmed leadership after every earlier request too: answer them all in order.
    const released = this.pendingReads.splice(0, position + 1);
    for (const done of released) this.answerRead(done);
  }

  protected answerRead(read: PendingRead): void {
    if (read.from === this.id) this.pushReadState({ index: read.index, context: read.context });
    else {
      this.send(
        message({
          type: "readIndexResp",
          from: this.id,
          to: read.from,
          term: this.term,
          index: read.index,
          context: read.context,
        }),
      );
    }
  }

  protected pushReadState(state: ReadState): void {
    if (this.readStates.length < read_states_max) this.readStates.push(state);
  }

  // ---- Membership (single-server, thesis §4.1) -----------------------------------------------------

  /** Appends entries to the log, adopting every configuration they carry at once. */
  protected appendToLog(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    this.log.append(entries);
    const before = this.confHistory.length;
    while (
      this.confHistory.length > 1 &&
      (this.confHistory[this.confHistory.length - 1] as ConfPoint).index >= first.index
    ) {
      this.confHistory.pop();
    }
    const truncated = this.confHistory.length !== before;
    const added = this.recordConfEntries(entries);
    if (truncated || added) this.setConfiguration(this.confState());
  }

  /** Pushes the configuration of every conf change entry; returns whether there was any. */
  protected recordConfEntries(entries: readonly Entry[]): boolean {
    let added = false;
    for (const entry of entries) {
      if (entry.type !== "confChange") continue;
      const confState = applyConfChange(this.confState(), decodeConfChange(entry.data));
      this.confHistory.push({ index: entry.index, confState });
      added = true;
    }
    return added;
  }

  protected setConfiguration(confState: ConfState): void {
    this.voters = new Set(confState.voters);
    this.learners = new Set(confState.learners);
    const next = this.log.lastIndex() + 1;
    for (const id of [...this.progress.keys()]) {
      if (!this.voters.has(id) && !this.learners.has(id)) this.progress.delete(id);
    }
    for (const id of [...confState.voters, ...confState.learners]) {
      const pr = this.progress.get(id);
      if (pr === undefined) this.progress.set(id, this.newProgress(next, this.learners.has(id)));
      else pr.isLearner = this.learners.has(id);
    }
    if (this.leadTransferee !== NO_NODE && !this.voters.has(this.leadTransferee))
      this.leadTransferee = NO_NODE;
  }

  protected lastConfIndex(): number {
    return (this.confHistory[this.confHistory.length - 1] as ConfPoint).index;
  }

  // ---- Helpers ----------------------------------------------------------------------------------------

  protected checkCanPropose(bytes: number): void {
    if (this.role !== "leader") throw new RaftError("NOT_LEADER", `${this.id} is not the leader`);
    if (this.leadTransferee !== NO_NODE)
      throw new RaftError("PROPOSAL_DROPPED", "leadership transfer in progress");
    if (bytes > proposal_bytes_max) throw new RaftError("PROPOSAL_DROPPED", "proposal too large");
    const limit = this.config.maxUncommittedEntriesBytes;
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > limit) {
      throw new RaftError("PROPOSAL_DROPPED", "too many uncommitted bytes");
    }
  }

  protected appendAndSend(entry: Pick<Entry, "type" | "data">): number {
    const index = this.appendEntry(entry);
    this.bcastAppend();
    return index;
  }

  protected appendEntry(entry: Pick<Entry, "type" | "data">): number {
    const index = this.log.lastIndex() + 1;
    this.appendToLog([{ term: this.term, index, type: entry.type, data: entry.data }]);
    this.uncommittedBytes += entry.data.byteLength;
    return index;
  }

  protected committedInCurrentTerm(): boolean {
    return this.log.termAt(this.log.committed) === this.term;
  }

  protected quorum(): number {
    return Math.floor(this.voters.size / 2) + 1;
  }

  protected newProgress(next: number, isLearner: boolean): Progress {
    return new Progress({
      next,
      isLearner,
      inflightCountMax: this.config.maxInflightMsgs,
      inflightBytesMax: this.config.maxInflightBytes,
    });
  }

  /** Queues a message; those that acknowledge durable state wait for the driver to persist it. */
  protected send(m: Message): void {
    const queue = this.mustFollowPersist(m.type) ? this.messagesAfterPersist : this.messages;
    assert(queue.length < outbox_messages_max, "outbox full: the driver is not taking Ready");
    queue.push(m);
  }

  /**
   * Acknowledgements of durable state (appended entries, a vote, the term a vote request carries)
   * may leave only once that state is persisted (§5.1: "respond to RPCs only after updating stable
   * storage").
   */
  protected mustFollowPersist(type: MessageType): boolean {
    return type === "appResp" || type === "voteResp" || type === "preVoteResp" || type === "vote";
  }

  protected loadHardState(hardState: HardState): void {
    const first = this.log.firstIndex();
    const last = this.log.lastIndex();
    assert(hardState.commit >= first - 1 || hardState.commit === 0, "hard state commit below the snapshot");
    assert(hardState.commit <= last, "hard state commit past the last entry");
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.log.committed = Math.max(hardState.commit, first - 1);
  }
}

function normalize(confState: ConfState): ConfState {
  return { voters: [...confState.voters].sort(), learners: [...confState.learners].sort() };
}
