/**
 * The state the rules run over: typed tables (one interface method per read or write) so that the
 * node can back it with SQLite tables and indexes, plus an in-memory implementation and a wrapper
 * that records every write as a canonical (table, key, value) record for the app hash.
 *
 * Rows hold no `undefined`: absent values are `null`, so every row has one canonical encoding.
 * Ordered tables are ordered by `Position` (block height, then index of the transaction in it).
 */
import { toHex } from "./bytes.js";
import { check, invariant } from "./errors.js";
import { state_page_max } from "./limits.js";
import type { AccessDecision, Did, Hash, RecordId } from "./types.js";
import type { Category, Purpose } from "./vocabulary.js";

/** Where a transaction sits in the chain: its block's height and its index in the block. */
export interface Position {
  height: number;
  txIndex: number;
}

/** A page request: rows strictly after `after` (oldest first), at most `limit` (1..state_page_max). */
export interface PageRequest {
  after?: Position;
  limit: number;
}

/** A page of rows; `next` is the cursor for the following page, or null when this one is not full. */
export interface Page<T> {
  items: T[];
  next: Position | null;
}

/** The chain this state belongs to and the last block applied to it. */
export interface ChainState {
  chain: string;
  genesisTime: number;
  /** The last applied block's height (0 after genesis). */
  height: number;
  /** The last applied block's time (the genesis time after genesis). */
  time: number;
  /** The app hash after the last applied block. */
  appHash: Hash;
}

/** The role of an identity. */
export type IdentityRole = "member" | "node" | "provider" | "patient";
/** The status of an identity: suspended providers, removed members and unbound nodes are "suspended". */
export type IdentityStatus = "active" | "suspended";

/** An identity: a DID, its role and the key it currently signs with. */
export interface IdentityRow {
  did: Did;
  role: IdentityRole;
  /** The did:key of the current key (the DID itself until the first rotation or recovery). */
  key: Did;
  /** For providers and nodes: the member that registered them; otherwise null. */
  member: Did | null;
  status: IdentityStatus;
  /** For providers: sha256 of the licence the member checked; otherwise null. */
  licenseHash: Hash | null;
}

/** A current member and the keys of its nodes. */
export interface MemberRow {
  did: Did;
  nodes: Did[];
  /** Height of the block that admitted it (0 for founders). */
  admittedHeight: number;
}

/** A governance proposal (named by its member.propose transaction id). */
export interface ProposalRow {
  id: Hash;
  proposer: Did;
  action: "add" | "remove" | "update";
  member: Did;
  nodes: Did[];
  deadline: number;
  status: "open" | "passed";
  approvals: number;
  rejections: number;
  height: number;
  txIndex: number;
}

/** One member's vote on a proposal. */
export interface VoteRow {
  proposal: Hash;
  voter: Did;
  approve: boolean;
  height: number;
}

/** A registered patient's settings. */
export interface PatientRow {
  did: Did;
  /** Guardians for key recovery (empty until set). */
  guardians: Did[];
  /** Guardians needed to recover (0 until set). */
  threshold: number;
  /** Categories break-glass may reach, or null for DEFAULT_EMERGENCY_SCOPE. */
  emergencyScope: Category[] | null;
}

/** The anchor of a record held off-chain by a member's vault. */
export interface RecordRow {
  record: RecordId;
  patient: Did;
  /** The member whose vault holds the record. */
  holder: Did;
  provider: Did;
  category: Category;
  format: string;
  contentHash: Hash;
  erased: boolean;
  /** Block time of the erasure, or null. */
  erasedAt: number | null;
  /** The record.anchor transaction id. */
  anchorTx: Hash;
  height: number;
  txIndex: number;
}

/** A consent (named by its consent.grant transaction id). */
export interface ConsentRow {
  id: Hash;
  patient: Did;
  grantee: Did;
  categories: Category[];
  records: RecordId[];
  purposes: Purpose[];
  notBefore: number;
  expires: number;
  /** Block time of the revocation, or null. */
  revokedAt: number | null;
  height: number;
  txIndex: number;
}

/** A break-glass (named by its emergency.declare transaction id). */
export interface EmergencyRow {
  id: Hash;
  provider: Did;
  patient: Did;
  reason: string;
  /** Block time of the declaration. */
  from: number;
  /** End of the access window (exclusive). */
  until: number;
  height: number;
  txIndex: number;
}

/** One entry of the audit trail: an access.log transaction and the decision the rules gave. */
export interface AuditRow {
  tx: Hash;
  height: number;
  txIndex: number;
  time: number;
  /** The signer of the access.log (a provider, unless the attempt was denied for not being one). */
  provider: Did;
  patient: Did;
  category: Category;
  record: RecordId | null;
  purpose: Purpose;
  decision: AccessDecision;
  /** A reason code from REASON_CODES. */
  code: string;
  cites: Hash | null;
  flagged: boolean;
}

/** The typed state the rules read and write. Implementations must answer queries deterministically. */
export interface StateStore {
  /** The chain this state belongs to, or null before genesis. */
  getChain(): ChainState | null;
  /** Sets the chain state (after genesis and after each block). */
  putChain(state: ChainState): void;

  /** The identity named `did`, or null. */
  getIdentity(did: Did): IdentityRow | null;
  /** Inserts or replaces an identity. */
  putIdentity(row: IdentityRow): void;
  /** The identity that uses or ever used `key` (a did:key), or null when the key was never used. */
  getKeyOwner(key: Did): Did | null;
  /** Records that `owner` uses `key`; keys are never released. */
  putKeyOwner(key: Did, owner: Did): void;

  /** The current member `did`, or null. */
  getMember(did: Did): MemberRow | null;
  /** Inserts or replaces a current member. */
  putMember(row: MemberRow): void;
  /** Removes a member from the current members. */
  deleteMember(did: Did): void;
  /** Every current member, ordered by DID (at most members_max). */
  listMembers(): MemberRow[];
  /** How many current members there are. */
  countMembers(): number;

  /** The proposal `id`, or null. */
  getProposal(id: Hash): ProposalRow | null;
  /** Inserts or replaces a proposal. */
  putProposal(row: ProposalRow): void;
  /** The vote of `voter` on `proposal`, or null. */
  getVote(proposal: Hash, voter: Did): VoteRow | null;
  /** Inserts a vote. */
  putVote(row: VoteRow): void;

  /** The registered patient `did`, or null. */
  getPatient(did: Did): PatientRow | null;
  /** Inserts or replaces a patient. */
  putPatient(row: PatientRow): void;

  /** The anchor of `record`, or null. */
  getRecord(record: RecordId): RecordRow | null;
  /** Inserts or replaces a record anchor. */
  putRecord(row: RecordRow): void;
  /** A page of a patient's record anchors, in anchoring order. */
  recordsOfPatient(patient: Did, page: PageRequest): Page<RecordRow>;

  /** The consent `id`, or null. */
  getConsent(id: Hash): ConsentRow | null;
  /** Inserts or replaces a consent. */
  putConsent(row: ConsentRow): void;
  /** A page of a patient's consents (all states), in grant order. */
  consentsOfPatient(patient: Did, page: PageRequest): Page<ConsentRow>;
  /** Unrevoked consents of `patient` to any of `grantees` with expires > time, in grant order, at most `limit`. */
  liveConsents(query: { patient: Did; grantees: Did[]; time: number; limit: number }): ConsentRow[];
  /** Revoked or expired (expires <= time) consents of `patient` to `grantees`, newest first, at most `limit`. */
  endedConsents(query: { patient: Did; grantees: Did[]; time: number; limit: number }): ConsentRow[];

  /** The break-glass `id`, or null. */
  getEmergency(id: Hash): EmergencyRow | null;
  /** Inserts a break-glass. */
  putEmergency(row: EmergencyRow): void;
  /** Break-glasses by `provider` for `patient` with from <= time < until, oldest first, at most `limit`. */
  activeEmergencies(query: { patient: Did; provider: Did; time: number; limit: number }): EmergencyRow[];
  /** The most recent break-glass by `provider` for `patient`, or null. */
  latestEmergency(patient: Did, provider: Did): EmergencyRow | null;
  /** A page of the break-glasses declared for a patient, oldest first. */
  emergenciesOfPatient(patient: Did, page: PageRequest): Page<EmergencyRow>;

  /** Appends an entry to the audit trail. */
  putAudit(row: AuditRow): void;
  /** A page of a patient's audit trail, ordered by position. */
  auditOfPatient(patient: Did, page: PageRequest): Page<AuditRow>;

  /** True when transaction id `id` is remembered for replay protection. */
  hasSeen(id: Hash): boolean;
  /** Remembers transaction id `id` until `expires` (inclusive). */
  putSeen(id: Hash, expires: number): void;
  /** Forgets every remembered id whose `expires` is before `time`; returns how many. */
  pruneSeen(time: number): number;
}

/** One write of a block, in the order made: a table, a key and the new value (null for a delete). */
export type WriteRecord = [table: string, key: unknown, value: unknown];

/** A StateStore that forwards to `inner` and appends every write to `log` (for the app hash). */
export class RecordingStateStore implements StateStore {
  /** Wraps `inner`; writes are appended to `log` in the order they are made. */
  constructor(
    private readonly inner: StateStore,
    readonly log: WriteRecord[] = [],
  ) {}

  /** Reads through. */
  getChain(): ChainState | null {
    return this.inner.getChain();
  }
  /** Not logged: the chain state is bookkeeping derived from the blocks, not a transition. */
  putChain(state: ChainState): void {
    this.inner.putChain(state);
  }
  /** Reads through. */
  getIdentity(did: Did): IdentityRow | null {
    return this.inner.getIdentity(did);
  }
  /** Logs ["identity", did, row]. */
  putIdentity(row: IdentityRow): void {
    this.log.push(["identity", row.did, row]);
    this.inner.putIdentity(row);
  }
  /** Reads through. */
  getKeyOwner(key: Did): Did | null {
    return this.inner.getKeyOwner(key);
  }
  /** Logs ["key", key, owner]. */
  putKeyOwner(key: Did, owner: Did): void {
    this.log.push(["key", key, owner]);
    this.inner.putKeyOwner(key, owner);
  }
  /** Reads through. */
  getMember(did: Did): MemberRow | null {
    return this.inner.getMember(did);
  }
  /** Logs ["member", did, row]. */
  putMember(row: MemberRow): void {
    this.log.push(["member", row.did, row]);
    this.inner.putMember(row);
  }
  /** Logs ["member", did, null]. */
  deleteMember(did: Did): void {
    this.log.push(["member", did, null]);
    this.inner.deleteMember(did);
  }
  /** Reads through. */
  listMembers(): MemberRow[] {
    return this.inner.listMembers();
  }
  /** Reads through. */
  countMembers(): number {
    return this.inner.countMembers();
  }
  /** Reads through. */
  getProposal(id: Hash): ProposalRow | null {
    return this.inner.getProposal(id);
  }
  /** Logs ["proposal", id, row]. */
  putProposal(row: ProposalRow): void {
    this.log.push(["proposal", row.id, row]);
    this.inner.putProposal(row);
  }
  /** Reads through. */
  getVote(proposal: Hash, voter: Did): VoteRow | null {
    return this.inner.getVote(proposal, voter);
  }
  /** Logs ["vote", [proposal, voter], row]. */
  putVote(row: VoteRow): void {
    this.log.push(["vote", [row.proposal, row.voter], row]);
    this.inner.putVote(row);
  }
  /** Reads through. */
  getPatient(did: Did): PatientRow | null {
    return this.inner.getPatient(did);
  }
  /** Logs ["patient", did, row]. */
  putPatient(row: PatientRow): void {
    this.log.push(["patient", row.did, row]);
    this.inner.putPatient(row);
  }
  /** Reads through. */
  getRecord(record: RecordId): RecordRow | null {
    return this.inner.getRecord(record);
  }
  /** Logs ["record", record, row]. */
  putRecord(row: RecordRow): void {
    this.log.push(["record", row.record, row]);
    this.inner.putRecord(row);
  }
  /** Reads through. */
  recordsOfPatient(patient: Did, page: PageRequest): Page<RecordRow> {
    return this.inner.recordsOfPatient(patient, page);
  }
  /** Reads through. */
  getConsent(id: Hash): ConsentRow | null {
    return this.inner.getConsent(id);
  }
  /** Logs ["consent", id, row]. */
  putConsent(row: ConsentRow): void {
    this.log.push(["consent", row.id, row]);
    this.inner.putConsent(row);
  }
  /** Reads through. */
  consentsOfPatient(patient: Did, page: PageRequest): Page<ConsentRow> {
    return this.inner.consentsOfPatient(patient, page);
  }
  /** Reads through. */
  liveConsents(query: { patient: Did; grantees: Did[]; time: number; limit: number }): ConsentRow[] {
    return this.inner.liveConsents(query);
  }
  /** Reads through. */
  endedConsents(query: { patient: Did; grantees: Did[]; time: number; limit: number }): ConsentRow[] {
    return this.inner.endedConsents(query);
  }
  /** Reads through. */
  getEmergency(id: Hash): EmergencyRow | null {
    return this.inner.getEmergency(id);
  }
  /** Logs ["emergency", id, row]. */
  putEmergency(row: EmergencyRow): void {
    this.log.push(["emergency", row.id, row]);
    this.inner.putEmergency(row);
  }
  /** Reads through. */
  activeEmergencies(query: { patient: Did; provider: Did; time: number; limit: number }): EmergencyRow[] {
    return this.inner.activeEmergencies(query);
  }
  /** Reads through. */
  latestEmergency(patient: Did, provider: Did): EmergencyRow | null {
    return this.inner.latestEmergency(patient, provider);
  }
  /** Reads through. */
  emergenciesOfPatient(patient: Did, page: PageRequest): Page<EmergencyRow> {
    return this.inner.emergenciesOfPatient(patient, page);
  }
  /** Logs ["audit", [height, txIndex], row]. */
  putAudit(row: AuditRow): void {
    this.log.push(["audit", [row.height, row.txIndex], row]);
    this.inner.putAudit(row);
  }
  /** Reads through. */
  auditOfPatient(patient: Did, page: PageRequest): Page<AuditRow> {
    return this.inner.auditOfPatient(patient, page);
  }
  /** Reads through. */
  hasSeen(id: Hash): boolean {
    return this.inner.hasSeen(id);
  }
  /** Logs ["seen", id, expires]. */
  putSeen(id: Hash, expires: number): void {
    this.log.push(["seen", id, expires]);
    this.inner.putSeen(id, expires);
  }
  /** Logs ["seen-prune", time, null]: the deletions follow from the state and the time. */
  pruneSeen(time: number): number {
    this.log.push(["seen-prune", time, null]);
    return this.inner.pruneSeen(time);
  }
}

/** A StateStore in memory: for tests, clients and simulations. Rows are copied in and out. */
export class MemoryStateStore implements StateStore {
  private chain: ChainState | null = null;
  private readonly identities = new Map<Did, IdentityRow>();
  private readonly keyOwners = new Map<Did, Did>();
  private readonly members = new Map<Did, MemberRow>();
  private readonly proposals = new Map<string, ProposalRow>();
  private readonly votes = new Map<string, VoteRow>();
  private readonly patients = new Map<Did, PatientRow>();
  private readonly records = new Map<RecordId, RecordRow>();
  private readonly recordsByPatient = new Map<Did, RecordId[]>();
  private readonly consents = new Map<string, ConsentRow>();
  private readonly consentsByPatient = new Map<Did, string[]>();
  /** Each consent's place in grant order (the order consentsByPatient lists them in). */
  private readonly consentOrder = new Map<string, number>();
  /** The consents not revoked, by patient and grantee, in grant order: what an access check reads. */
  private readonly unrevokedByPair = new Map<string, string[]>();
  private readonly emergencies = new Map<string, EmergencyRow>();
  private readonly emergenciesByPatient = new Map<Did, string[]>();
  private readonly auditByPatient = new Map<Did, AuditRow[]>();
  private readonly seen = new Map<string, number>();
  /** A min-heap of [expires, id] over `seen` (entries replaced or pruned since are skipped when popped). */
  private seenByExpiry: Array<[number, string]> = [];

  /** The chain state, or null before genesis. */
  getChain(): ChainState | null {
    return copy(this.chain);
  }
  /** Sets the chain state. */
  putChain(state: ChainState): void {
    this.chain = copy(state);
  }
  /** The identity `did`, or null. */
  getIdentity(did: Did): IdentityRow | null {
    return copy(this.identities.get(did) ?? null);
  }
  /** Inserts or replaces an identity. */
  putIdentity(row: IdentityRow): void {
    this.identities.set(row.did, copy(row));
  }
  /** The owner of `key`, or null. */
  getKeyOwner(key: Did): Did | null {
    return this.keyOwners.get(key) ?? null;
  }
  /** Records the owner of `key`. */
  putKeyOwner(key: Did, owner: Did): void {
    this.keyOwners.set(key, owner);
  }
  /** The current member `did`, or null. */
  getMember(did: Did): MemberRow | null {
    return copy(this.members.get(did) ?? null);
  }
  /** Inserts or replaces a member. */
  putMember(row: MemberRow): void {
    this.members.set(row.did, copy(row));
  }
  /** Removes a member. */
  deleteMember(did: Did): void {
    this.members.delete(did);
  }
  /** Every current member, ordered by DID. */
  listMembers(): MemberRow[] {
    return [...this.members.keys()].sort().map((did) => copy(this.members.get(did) as MemberRow));
  }
  /** How many current members there are. */
  countMembers(): number {
    return this.members.size;
  }
  /** The proposal `id`, or null. */
  getProposal(id: Hash): ProposalRow | null {
    return copy(this.proposals.get(toHex(id)) ?? null);
  }
  /** Inserts or replaces a proposal. */
  putProposal(row: ProposalRow): void {
    this.proposals.set(toHex(row.id), copy(row));
  }
  /** The vote of `voter` on `proposal`, or null. */
  getVote(proposal: Hash, voter: Did): VoteRow | null {
    return copy(this.votes.get(`${toHex(proposal)} ${voter}`) ?? null);
  }
  /** Inserts a vote. */
  putVote(row: VoteRow): void {
    this.votes.set(`${toHex(row.proposal)} ${row.voter}`, copy(row));
  }
  /** The patient `did`, or null. */
  getPatient(did: Did): PatientRow | null {
    return copy(this.patients.get(did) ?? null);
  }
  /** Inserts or replaces a patient. */
  putPatient(row: PatientRow): void {
    this.patients.set(row.did, copy(row));
  }
  /** The anchor of `record`, or null. */
  getRecord(record: RecordId): RecordRow | null {
    return copy(this.records.get(record) ?? null);
  }
  /** Inserts or replaces a record anchor. */
  putRecord(row: RecordRow): void {
    if (!this.records.has(row.record)) appendIndex(this.recordsByPatient, row.patient, row.record);
    this.records.set(row.record, copy(row));
  }
  /** A page of a patient's record anchors. */
  recordsOfPatient(patient: Did, page: PageRequest): Page<RecordRow> {
    const ids = this.recordsByPatient.get(patient) ?? [];
    return paginate(
      ids.map((id) => this.records.get(id) as RecordRow),
      page,
    );
  }
  /** The consent `id`, or null. */
  getConsent(id: Hash): ConsentRow | null {
    return copy(this.consents.get(toHex(id)) ?? null);
  }
  /** Inserts or replaces a consent. */
  putConsent(row: ConsentRow): void {
    const key = toHex(row.id);
    const earlier = this.consents.get(key);
    if (earlier === undefined) {
      appendIndex(this.consentsByPatient, row.patient, key);
      this.consentOrder.set(key, this.consentOrder.size);
    } else if (earlier.revokedAt === null) {
      removeFromIndex(this.unrevokedByPair, pairKey(earlier.patient, earlier.grantee), key);
    }
    if (row.revokedAt === null) this.insertUnrevoked(pairKey(row.patient, row.grantee), key);
    this.consents.set(key, copy(row));
  }
  /** A page of a patient's consents. */
  consentsOfPatient(patient: Did, page: PageRequest): Page<ConsentRow> {
    return paginate(this.consentRows(patient), page);
  }
  /** Live consents of `patient` to `grantees`, in grant order. */
  liveConsents(query: { patient: Did; grantees: Did[]; time: number; limit: number }): ConsentRow[] {
    // From the grantees' unrevoked consents only (a patient may hold many revoked or for others).
    const keys = [...new Set(query.grantees)].flatMap(
      (grantee) => this.unrevokedByPair.get(pairKey(query.patient, grantee)) ?? [],
    );
    if (query.grantees.length > 1) {
      keys.sort((a, b) => (this.consentOrder.get(a) as number) - (this.consentOrder.get(b) as number));
    }
    const out: ConsentRow[] = [];
    for (const key of keys) {
      if (out.length >= query.limit) break;
      const row = this.consents.get(key) as ConsentRow;
      if (row.expires > query.time) out.push(copy(row));
    }
    return out;
  }
  /** Ended consents of `patient` to `grantees`, newest first. */
  endedConsents(query: { patient: Did; grantees: Did[]; time: number; limit: number }): ConsentRow[] {
    const keys = this.consentsByPatient.get(query.patient) ?? [];
    const out: ConsentRow[] = [];
    for (let at = keys.length - 1; at >= 0 && out.length < query.limit; at--) {
      const row = this.consents.get(keys[at] as string) as ConsentRow;
      if (query.grantees.includes(row.grantee) && (row.revokedAt !== null || row.expires <= query.time)) {
        out.push(copy(row));
      }
    }
    return out;
  }
  /** The break-glass `id`, or null. */
  getEmergency(id: Hash): EmergencyRow | null {
    return copy(this.emergencies.get(toHex(id)) ?? null);
  }
  /** Inserts a break-glass. */
  putEmergency(row: EmergencyRow): void {
    const key = toHex(row.id);
    if (!this.emergencies.has(key)) appendIndex(this.emergenciesByPatient, row.patient, key);
    this.emergencies.set(key, copy(row));
  }
  /** Active break-glasses by `provider` for `patient`. */
  activeEmergencies(query: { patient: Did; provider: Did; time: number; limit: number }): EmergencyRow[] {
    return this.emergencyRows(query.patient)
      .filter((row) => row.provider === query.provider && row.from <= query.time && query.time < row.until)
      .slice(0, query.limit)
      .map(copy);
  }
  /** The most recent break-glass by `provider` for `patient`, or null. */
  latestEmergency(patient: Did, provider: Did): EmergencyRow | null {
    const rows = this.emergencyRows(patient).filter((row) => row.provider === provider);
    return copy(rows[rows.length - 1] ?? null);
  }
  /** A page of a patient's break-glasses. */
  emergenciesOfPatient(patient: Did, page: PageRequest): Page<EmergencyRow> {
    return paginate(this.emergencyRows(patient), page);
  }
  /** Appends an audit entry. */
  putAudit(row: AuditRow): void {
    const rows = this.auditByPatient.get(row.patient) ?? [];
    const last = rows[rows.length - 1];
    invariant(last === undefined || comparePositions(last, row) < 0, "audit entries are appended in order");
    rows.push(copy(row));
    this.auditByPatient.set(row.patient, rows);
  }
  /** A page of a patient's audit trail. */
  auditOfPatient(patient: Did, page: PageRequest): Page<AuditRow> {
    return paginate(this.auditByPatient.get(patient) ?? [], page);
  }
  /** True when `id` is remembered. */
  hasSeen(id: Hash): boolean {
    return this.seen.has(toHex(id));
  }
  /** Remembers `id` until `expires`. */
  putSeen(id: Hash, expires: number): void {
    const key = toHex(id);
    this.seen.set(key, expires);
    heapPush(this.seenByExpiry, [expires, key]);
  }
  /** Forgets ids that expired before `time` (popping the expiry heap: no walk over every id). */
  pruneSeen(time: number): number {
    let pruned = 0;
    const heap = this.seenByExpiry;
    while (heap.length > 0 && (heap[0] as [number, string])[0] < time) {
      const [expires, key] = heapPop(heap);
      if (this.seen.get(key) !== expires) continue; // replaced or already pruned
      this.seen.delete(key);
      pruned++;
    }
    return pruned;
  }
  /** How many transaction ids are remembered (for tests of pruning). */
  seenCount(): number {
    return this.seen.size;
  }

  /** An independent copy: writes to either store never show in the other (rows are stored as copies). */
  clone(): MemoryStateStore {
    const out = new MemoryStateStore();
    out.chain = copy(this.chain);
    copyMap(this.identities, out.identities);
    copyMap(this.keyOwners, out.keyOwners);
    copyMap(this.members, out.members);
    copyMap(this.proposals, out.proposals);
    copyMap(this.votes, out.votes);
    copyMap(this.patients, out.patients);
    copyMap(this.records, out.records);
    copyMap(this.consents, out.consents);
    copyMap(this.emergencies, out.emergencies);
    copyMap(this.seen, out.seen);
    out.seenByExpiry = this.seenByExpiry.slice();
    copyListMap(this.recordsByPatient, out.recordsByPatient);
    copyListMap(this.consentsByPatient, out.consentsByPatient);
    copyMap(this.consentOrder, out.consentOrder);
    copyListMap(this.unrevokedByPair, out.unrevokedByPair);
    copyListMap(this.emergenciesByPatient, out.emergenciesByPatient);
    copyListMap(this.auditByPatient, out.auditByPatient);
    return out;
  }

  /** Puts `key` into the pair's list at its place in grant order (normally the end). */
  private insertUnrevoked(pair: string, key: string): void {
    const list = this.unrevokedByPair.get(pair);
    if (list === undefined) {
      this.unrevokedByPair.set(pair, [key]);
      return;
    }
    const order = this.consentOrder.get(key) as number;
    let at = list.length;
    while (at > 0 && (this.consentOrder.get(list[at - 1] as string) as number) > order) at--;
    list.splice(at, 0, key);
  }

  private consentRows(patient: Did): ConsentRow[] {
    return (this.consentsByPatient.get(patient) ?? []).map((key) => this.consents.get(key) as ConsentRow);
  }

  private emergencyRows(patient: Did): EmergencyRow[] {
    return (this.emergenciesByPatient.get(patient) ?? []).map(
      (key) => this.emergencies.get(key) as EmergencyRow,
    );
  }
}

/** Pushes onto a binary min-heap ordered by the entry's first element. */
function heapPush(heap: Array<[number, string]>, entry: [number, string]): void {
  heap.push(entry);
  let at = heap.length - 1;
  while (at > 0) {
    const parent = (at - 1) >> 1;
    if ((heap[parent] as [number, string])[0] <= entry[0]) break;
    heap[at] = heap[parent] as [number, string];
    at = parent;
  }
  heap[at] = entry;
}

/** Pops the least entry of a non-empty binary min-heap. */
function heapPop(heap: Array<[number, string]>): [number, string] {
  const top = heap[0] as [number, string];
  const last = heap.pop() as [number, string];
  if (heap.length === 0) return top;
  let at = 0;
  for (;;) {
    const left = 2 * at + 1;
    if (left >= heap.length) break;
    const right = left + 1;
    const child =
      right < heap.length && (heap[right] as [number, string])[0] < (heap[left] as [number, string])[0]
        ? right
        : left;
    if ((heap[child] as [number, string])[0] >= last[0]) break;
    heap[at] = heap[child] as [number, string];
    at = child;
  }
  heap[at] = last;
  return top;
}

/** Orders positions: negative when `a` comes first. */
export function comparePositions(a: Position, b: Position): number {
  return a.height !== b.height ? a.height - b.height : a.txIndex - b.txIndex;
}

function paginate<T extends Position>(rows: readonly T[], page: PageRequest): Page<T> {
  check(
    Number.isSafeInteger(page.limit) && page.limit >= 1 && page.limit <= state_page_max,
    "FIELD_INVALID",
    `a page holds 1 to ${state_page_max} rows`,
    "limit",
  );
  const after = page.after;
  const start = after === undefined ? rows : rows.filter((row) => comparePositions(row, after) > 0);
  const items = start.slice(0, page.limit).map(copy);
  const last = items[items.length - 1];
  const next =
    items.length === page.limit && last !== undefined ? { height: last.height, txIndex: last.txIndex } : null;
  return { items, next };
}

function pairKey(patient: Did, grantee: Did): string {
  return `${patient}\n${grantee}`;
}

function removeFromIndex(index: Map<string, string[]>, key: string, value: string): void {
  const list = index.get(key);
  const at = list?.indexOf(value) ?? -1;
  if (list === undefined || at < 0) return;
  list.splice(at, 1);
  if (list.length === 0) index.delete(key);
}

function appendIndex<K, V>(index: Map<K, V[]>, key: K, value: V): void {
  const list = index.get(key);
  if (list === undefined) index.set(key, [value]);
  else list.push(value);
}

/**
 * Copies the entries of `from` into `to`, sharing the rows: rows in a MemoryStateStore are never
 * mutated in place (put stores a copy, get returns a copy), so a clone may share them.
 */
function copyMap<K, V>(from: Map<K, V>, to: Map<K, V>): void {
  for (const [key, value] of from) to.set(key, value);
}

/** Copies an index of lists into `to`, copying each list: the lists grow in place. */
function copyListMap<K, V>(from: Map<K, V[]>, to: Map<K, V[]>): void {
  for (const [key, list] of from) to.set(key, list.slice());
}

/** A deep copy of a row (plain objects, arrays, Uint8Array and primitives only). */
function copy<T>(value: T): T {
  return copyValue(value) as T;
}

function copyValue(value: unknown): unknown {
  if (value instanceof Uint8Array) return Uint8Array.from(value);
  if (Array.isArray(value)) return value.map(copyValue);
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [name, field] of Object.entries(value)) out[name] = copyValue(field);
    return out;
  }
  return value;
}
