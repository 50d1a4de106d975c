/**
 * The protocol's StateStore over the chain database's state tables. Every query is served by an index
 * (see STATE_SQL and the EXPLAIN QUERY PLAN test) and answers exactly as MemoryStateStore does: rows
 * are fresh objects (hashes as plain Uint8Arrays, absent values as null), ordered tables are ordered by
 * (height, txIndex) then insertion order, and pages carry the same cursors.
 *
 * Writes are not transactions of their own: the caller (BlockStore.applyCommittedBlock) wraps a whole
 * block in one SQLite transaction.
 *
 * Audit rows hold integer references into `atoms` for the values they repeat (interned on write,
 * resolved on read). The hot reads (chain state, identities, members, patients, each patient's
 * consents, interned values, last audit positions) go through caches that only ever hold committed
 * values (state-cache.ts): the block store opens a scope around each block's transaction.
 */
import {
  type AuditRow,
  type ChainState,
  type ConsentRow,
  check,
  type Did,
  type EmergencyRow,
  type Hash,
  type IdentityRow,
  invariant,
  limits,
  type MemberRow,
  type Page,
  type PageRequest,
  type PatientRow,
  type Position,
  type ProposalRow,
  type RecordId,
  type RecordRow,
  type StateStore,
  type VoteRow,
} from "@medledger/protocol";
import type Database from "better-sqlite3";
import { state_cache_consents_max, state_cache_rows_max } from "../limits.js";
import { bytes, bytesOrNull, list, parseList } from "./sql.js";
import { ListCache, type Scoped, ScopedCache } from "./state-cache.js";

/** Every statement of the state store, by name: prepared once; the query plan test reads them. */
export const STATE_SQL = {
  getChain: "SELECT chain, genesis_time, height, time, app_hash FROM chain WHERE id = 0",
  putChain: `INSERT INTO chain (id, chain, genesis_time, height, time, app_hash) VALUES (0, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET chain = excluded.chain, genesis_time = excluded.genesis_time,
    height = excluded.height, time = excluded.time, app_hash = excluded.app_hash`,
  getIdentity: "SELECT did, role, key, member, status, license_hash FROM identities WHERE did = ?",
  putIdentity: `INSERT INTO identities (did, role, key, member, status, license_hash) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (did) DO UPDATE SET role = excluded.role, key = excluded.key, member = excluded.member,
    status = excluded.status, license_hash = excluded.license_hash`,
  getKeyOwner: "SELECT owner FROM key_owners WHERE key = ?",
  putKeyOwner: `INSERT INTO key_owners (key, owner) VALUES (?, ?)
    ON CONFLICT (key) DO UPDATE SET owner = excluded.owner`,
  getMember: "SELECT did, nodes, admitted_height FROM members WHERE did = ?",
  putMember: `INSERT INTO members (did, nodes, admitted_height) VALUES (?, ?, ?)
    ON CONFLICT (did) DO UPDATE SET nodes = excluded.nodes, admitted_height = excluded.admitted_height`,
  deleteMember: "DELETE FROM members WHERE did = ?",
  listMembers: "SELECT did, nodes, admitted_height FROM members ORDER BY did LIMIT ?",
  countMembers: "SELECT count(*) AS n FROM members",
  getProposal: `SELECT id, proposer, action, member, nodes, deadline, status, approvals, rejections, height,
    tx_index FROM proposals WHERE id = ?`,
  putProposal: `INSERT INTO proposals (id, proposer, action, member, nodes, deadline, status, approvals,
    rejections, height, tx_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET proposer = excluded.proposer, action = excluded.action,
    member = excluded.member, nodes = excluded.nodes, deadline = excluded.deadline,
    status = excluded.status, approvals = excluded.approvals, rejections = excluded.rejections,
    height = excluded.height, tx_index = excluded.tx_index`,
  getVote: "SELECT proposal, voter, approve, height FROM votes WHERE proposal = ? AND voter = ?",
  putVote: `INSERT INTO votes (proposal, voter, approve, height) VALUES (?, ?, ?, ?)
    ON CONFLICT (proposal, voter) DO UPDATE SET approve = excluded.approve, height = excluded.height`,
  getPatient: "SELECT did, guardians, threshold, emergency_scope FROM patients WHERE did = ?",
  putPatient: `INSERT INTO patients (did, guardians, threshold, emergency_scope) VALUES (?, ?, ?, ?)
    ON CONFLICT (did) DO UPDATE SET guardians = excluded.guardians, threshold = excluded.threshold,
    emergency_scope = excluded.emergency_scope`,
  getRecord: `SELECT record, patient, holder, provider, category, format, content_hash, erased, erased_at,
    anchor_tx, height, tx_index FROM records WHERE record = ?`,
  putRecord: `INSERT INTO records (record, patient, holder, provider, category, format, content_hash, erased,
    erased_at, anchor_tx, height, tx_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (record) DO UPDATE SET patient = excluded.patient, holder = excluded.holder,
    provider = excluded.provider, category = excluded.category, format = excluded.format,
    content_hash = excluded.content_hash, erased = excluded.erased, erased_at = excluded.erased_at,
    anchor_tx = excluded.anchor_tx, height = excluded.height, tx_index = excluded.tx_index`,
  recordsOfPatient: `SELECT record, patient, holder, provider, category, format, content_hash, erased,
    erased_at, anchor_tx, height, tx_index FROM records
    WHERE patient = ? AND (height, tx_index) > (?, ?) ORDER BY height, tx_index, seq LIMIT ?`,
  getConsent: `SELECT id, patient, grantee, categories, records, purposes, not_before, expires, revoked_at,
    height, tx_index FROM consents WHERE id = ?`,
  putConsent: `INSERT INTO consents (id, patient, grantee, categories, records, purposes, not_before, expires,
    revoked_at, height, tx_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET patient = excluded.patient, grantee = excluded.grantee,
    categories = excluded.categories, records = excluded.records, purposes = excluded.purposes,
    not_before = excluded.not_before, expires = excluded.expires, revoked_at = excluded.revoked_at,
    height = excluded.height, tx_index = excluded.tx_index`,
  consentsOfPatient: `SELECT id, patient, grantee, categories, records, purposes, not_before, expires,
    revoked_at, height, tx_index FROM consents
    WHERE patient = ? AND (height, tx_index) > (?, ?) ORDER BY height, tx_index, seq LIMIT ?`,
  allConsents: `SELECT id, patient, grantee, categories, records, purposes, not_before, expires,
    revoked_at, height, tx_index FROM consents INDEXED BY consents_by_patient
    WHERE patient = ? ORDER BY height, tx_index, seq LIMIT ?`,
  liveConsents: `SELECT id, patient, grantee, categories, records, purposes, not_before, expires, revoked_at,
    height, tx_index FROM consents INDEXED BY consents_by_grantee
    WHERE patient = ? AND grantee IN (SELECT value FROM json_each(?)) AND revoked_at IS NULL AND expires > ?
    ORDER BY height, tx_index, seq LIMIT ?`,
  endedConsents: `SELECT id, patient, grantee, categories, records, purposes, not_before, expires, revoked_at,
    height, tx_index FROM consents INDEXED BY consents_by_grantee
    WHERE patient = ? AND grantee IN (SELECT value FROM json_each(?))
    AND (revoked_at IS NOT NULL OR expires <= ?)
    ORDER BY height DESC, tx_index DESC, seq DESC LIMIT ?`,
  endedConsents2: `SELECT id, patient, grantee, categories, records, purposes, not_before, expires, revoked_at,
    height, tx_index FROM consents INDEXED BY consents_by_grantee
    WHERE patient = ? AND grantee IN (?, ?) AND (revoked_at IS NOT NULL OR expires <= ?)
    ORDER BY height DESC, tx_index DESC, seq DESC LIMIT ?`,
  getEmergency: `SELECT id, provider, patient, reason, from_time, until, height, tx_index FROM emergencies
    WHERE id = ?`,
  putEmergency: `INSERT INTO emergencies (id, provider, patient, reason, from_time, until, height, tx_index)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET provider = excluded.provider, patient = excluded.patient,
    reason = excluded.reason, from_time = excluded.from_time, until = excluded.until,
    height = excluded.height, tx_index = excluded.tx_index`,
  activeEmergencies: `SELECT id, provider, patient, reason, from_time, until, height, tx_index
    FROM emergencies INDEXED BY emergencies_by_provider
    WHERE patient = ? AND provider = ? AND from_time <= ? AND until > ?
    ORDER BY height, tx_index, seq LIMIT ?`,
  latestEmergency: `SELECT id, provider, patient, reason, from_time, until, height, tx_index
    FROM emergencies INDEXED BY emergencies_by_provider WHERE patient = ? AND provider = ?
    ORDER BY height DESC, tx_index DESC, seq DESC LIMIT 1`,
  emergenciesOfPatient: `SELECT id, provider, patient, reason, from_time, until, height, tx_index
    FROM emergencies INDEXED BY emergencies_by_patient
    WHERE patient = ? AND (height, tx_index) > (?, ?) ORDER BY height, tx_index, seq LIMIT ?`,
  atomRef: "SELECT ref FROM atoms WHERE value = ?",
  atomValue: "SELECT value FROM atoms WHERE ref = ?",
  putAtom: "INSERT INTO atoms (value) VALUES (?)",
  lastAudit: `SELECT height, tx_index FROM audit WHERE patient = ?
    ORDER BY height DESC, tx_index DESC, seq DESC LIMIT 1`,
  putAudit: `INSERT INTO audit (tx, height, tx_index, time, provider, patient, category, record, purpose,
    decision, code, cites, flagged) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  auditOfPatient: `SELECT tx, height, tx_index, time, provider, patient, category, record, purpose, decision,
    code, cites, flagged FROM audit
    WHERE patient = ? AND (height, tx_index) > (?, ?) ORDER BY height, tx_index, seq LIMIT ?`,
  hasSeen: "SELECT 1 AS found FROM seen WHERE id = ?",
  putSeen:
    "INSERT INTO seen (id, expires) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET expires = excluded.expires",
  pruneSeen: "DELETE FROM seen WHERE expires < ?",
} as const;

/** The name of one statement of the state store. */
export type StateStatement = keyof typeof STATE_SQL;

type Row = Record<string, unknown>;

/** A position before every real one: the cursor of a first page. */
const START: Position = { height: -1, txIndex: -1 };

/** A value interned in `atoms`: text (DIDs, categories, codes...) or bytes (cited ids). */
type Atom = string | Uint8Array;

/** A patient's last audit position, or NO_AUDIT. */
type AuditPosition = readonly [height: number, txIndex: number];
const NO_AUDIT: AuditPosition = [-1, -1];

/** The protocol's StateStore over SQLite tables; every statement is prepared once, in the constructor. */
export class SqliteStateStore implements StateStore {
  private readonly statements: { -readonly [K in StateStatement]: Database.Statement };
  private readonly identities: ScopedCache<Did, IdentityRow | null>;
  private readonly patients: ScopedCache<Did, PatientRow | null>;
  private readonly textRefs: ScopedCache<string, number>;
  private readonly blobRefs: ScopedCache<string, number>;
  private readonly atomValues: ScopedCache<number, Atom>;
  private readonly lastAudits: ScopedCache<number, AuditPosition>;
  /** Each patient's consents in grant order (null: more than the cache holds). */
  private readonly consents: ListCache<Did, ConsentRow[] | null>;
  private readonly members: ScopedCache<Did, MemberRow | null>;
  private readonly chain: ScopedCache<0, ChainState | null>;
  private readonly caches: Scoped[];
  private readonly dataVersion: Database.Statement;
  private seenVersion = -1;

  /** Prepares every statement over `sqlite` (whose schema the migrations made). */
  constructor(sqlite: Database.Database) {
    const prepared: Partial<Record<StateStatement, Database.Statement>> = {};
    for (const name of Object.keys(STATE_SQL) as StateStatement[]) {
      prepared[name] = sqlite.prepare(STATE_SQL[name]);
    }
    this.statements = prepared as { [K in StateStatement]: Database.Statement };
    this.dataVersion = sqlite.prepare("PRAGMA data_version").pluck();
    this.identities = new ScopedCache(sqlite, state_cache_rows_max);
    this.patients = new ScopedCache(sqlite, state_cache_rows_max);
    this.textRefs = new ScopedCache(sqlite, state_cache_rows_max);
    this.blobRefs = new ScopedCache(sqlite, state_cache_rows_max);
    this.atomValues = new ScopedCache(sqlite, state_cache_rows_max);
    this.lastAudits = new ScopedCache(sqlite, state_cache_rows_max);
    this.consents = new ListCache(sqlite, state_cache_rows_max);
    this.members = new ScopedCache(sqlite, state_cache_rows_max);
    this.chain = new ScopedCache(sqlite, 1);
    this.caches = [
      this.identities,
      this.patients,
      this.textRefs,
      this.blobRefs,
      this.atomValues,
      this.lastAudits,
      this.consents,
      this.members,
      this.chain,
    ];
  }

  /**
   * The block store opens a scope around each block's transaction (applied or dry run) and closes it
   * with the transaction's fate, so that the read caches keep only committed values (state-cache.ts).
   */
  openScope(): void {
    // Another connection committed to this file (not a node's way, but then nothing cached holds).
    const version = this.dataVersion.get() as number;
    if (version !== this.seenVersion) {
      this.seenVersion = version;
      this.resetCaches();
    }
    for (const cache of this.caches) cache.open();
  }

  /** Closes the scope opened by openScope: `committed` tells whether its transaction committed. */
  closeScope(committed: boolean): void {
    for (const cache of this.caches) cache.close(committed);
  }

  /** Forgets every cached read (the state tables were replaced underneath, e.g. by a state import). */
  resetCaches(): void {
    for (const cache of this.caches) cache.clear();
  }

  /** The chain state, or null before genesis. */
  getChain(): ChainState | null {
    let state = this.chain.get(0);
    if (state === undefined) {
      const row = this.statements.getChain.get() as Row | undefined;
      state =
        row === undefined
          ? null
          : {
              chain: row.chain as string,
              genesisTime: row.genesis_time as number,
              height: row.height as number,
              time: row.time as number,
              appHash: bytes(row.app_hash),
            };
      this.chain.fill(0, state);
    }
    return state === null ? null : { ...state, appHash: new Uint8Array(state.appHash) };
  }
  /** Sets the chain state. */
  putChain(state: ChainState): void {
    this.statements.putChain.run(state.chain, state.genesisTime, state.height, state.time, state.appHash);
    this.chain.write(0, { ...state, appHash: new Uint8Array(state.appHash) });
  }

  /** The identity `did`, or null. */
  getIdentity(did: Did): IdentityRow | null {
    let identity = this.identities.get(did);
    if (identity === undefined) {
      const row = this.statements.getIdentity.get(did) as Row | undefined;
      identity =
        row === undefined
          ? null
          : {
              did: row.did as Did,
              role: row.role as IdentityRow["role"],
              key: row.key as Did,
              member: row.member as Did | null,
              status: row.status as IdentityRow["status"],
              licenseHash: bytesOrNull(row.license_hash),
            };
      this.identities.fill(did, identity);
    }
    return identity === null ? null : copyIdentity(identity);
  }
  /** Inserts or replaces an identity. */
  putIdentity(row: IdentityRow): void {
    this.statements.putIdentity.run(row.did, row.role, row.key, row.member, row.status, row.licenseHash);
    this.identities.write(row.did, copyIdentity(row));
  }
  /** The owner of `key`, or null. */
  getKeyOwner(key: Did): Did | null {
    const row = this.statements.getKeyOwner.get(key) as Row | undefined;
    return row === undefined ? null : (row.owner as Did);
  }
  /** Records the owner of `key`. */
  putKeyOwner(key: Did, owner: Did): void {
    this.statements.putKeyOwner.run(key, owner);
  }

  /** The current member `did`, or null. */
  getMember(did: Did): MemberRow | null {
    let member = this.members.get(did);
    if (member === undefined) {
      const row = this.statements.getMember.get(did) as Row | undefined;
      member = row === undefined ? null : memberRow(row);
      this.members.fill(did, member);
    }
    return member === null ? null : { ...member, nodes: [...member.nodes] };
  }
  /** Inserts or replaces a member. */
  putMember(row: MemberRow): void {
    this.statements.putMember.run(row.did, list(row.nodes), row.admittedHeight);
    this.members.write(row.did, { ...row, nodes: [...row.nodes] });
  }
  /** Removes a member. */
  deleteMember(did: Did): void {
    this.statements.deleteMember.run(did);
    this.members.write(did, null);
  }
  /** Every current member, ordered by DID (at most members_max). */
  listMembers(): MemberRow[] {
    const rows = this.statements.listMembers.all(limits.members_max + 1) as Row[];
    invariant(rows.length <= limits.members_max, "at most members_max members");
    return rows.map(memberRow);
  }
  /** How many current members there are. */
  countMembers(): number {
    return (this.statements.countMembers.get() as Row).n as number;
  }

  /** The proposal `id`, or null. */
  getProposal(id: Hash): ProposalRow | null {
    const row = this.statements.getProposal.get(id) as Row | undefined;
    if (row === undefined) return null;
    return {
      id: bytes(row.id),
      proposer: row.proposer as Did,
      action: row.action as ProposalRow["action"],
      member: row.member as Did,
      nodes: parseList(row.nodes),
      deadline: row.deadline as number,
      status: row.status as ProposalRow["status"],
      approvals: row.approvals as number,
      rejections: row.rejections as number,
      height: row.height as number,
      txIndex: row.tx_index as number,
    };
  }
  /** Inserts or replaces a proposal. */
  putProposal(row: ProposalRow): void {
    this.statements.putProposal.run(
      row.id,
      row.proposer,
      row.action,
      row.member,
      list(row.nodes),
      row.deadline,
      row.status,
      row.approvals,
      row.rejections,
      row.height,
      row.txIndex,
    );
  }
  /** The vote of `voter` on `proposal`, or null. */
  getVote(proposal: Hash, voter: Did): VoteRow | null {
    const row = this.statements.getVote.get(proposal, voter) as Row | undefined;
    if (row === undefined) return null;
    return {
      proposal: bytes(row.proposal),
      voter: row.voter as Did,
      approve: row.approve === 1,
      height: row.height as number,
    };
  }
  /** Inserts a vote. */
  putVote(row: VoteRow): void {
    this.statements.putVote.run(row.proposal, row.voter, row.approve ? 1 : 0, row.height);
  }

  /** The patient `did`, or null. */
  getPatient(did: Did): PatientRow | null {
    let patient = this.patients.get(did);
    if (patient === undefined) {
      const row = this.statements.getPatient.get(did) as Row | undefined;
      patient =
        row === undefined
          ? null
          : {
              did: row.did as Did,
              guardians: parseList(row.guardians),
              threshold: row.threshold as number,
              emergencyScope: row.emergency_scope === null ? null : parseList(row.emergency_scope),
            };
      this.patients.fill(did, patient);
    }
    return patient === null ? null : copyPatient(patient);
  }
  /** Inserts or replaces a patient. */
  putPatient(row: PatientRow): void {
    const scope = row.emergencyScope === null ? null : list(row.emergencyScope);
    this.statements.putPatient.run(row.did, list(row.guardians), row.threshold, scope);
    this.patients.write(row.did, copyPatient(row));
  }

  /** The anchor of `record`, or null. */
  getRecord(record: RecordId): RecordRow | null {
    const row = this.statements.getRecord.get(record) as Row | undefined;
    return row === undefined ? null : recordRow(row);
  }
  /** Inserts or replaces a record anchor. */
  putRecord(row: RecordRow): void {
    this.statements.putRecord.run(
      row.record,
      row.patient,
      row.holder,
      row.provider,
      row.category,
      row.format,
      row.contentHash,
      row.erased ? 1 : 0,
      row.erasedAt,
      row.anchorTx,
      row.height,
      row.txIndex,
    );
  }
  /** A page of a patient's record anchors, in anchoring order. */
  recordsOfPatient(patient: Did, page: PageRequest): Page<RecordRow> {
    return this.page(this.statements.recordsOfPatient, patient, page, recordRow);
  }

  /** The consent `id`, or null. */
  getConsent(id: Hash): ConsentRow | null {
    const row = this.statements.getConsent.get(id) as Row | undefined;
    return row === undefined ? null : consentRow(row);
  }
  /** Inserts or replaces a consent. */
  putConsent(row: ConsentRow): void {
    this.statements.putConsent.run(
      row.id,
      row.patient,
      row.grantee,
      list(row.categories),
      list(row.records),
      list(row.purposes),
      row.notBefore,
      row.expires,
      row.revokedAt,
      row.height,
      row.txIndex,
    );
    this.consents.written();
  }
  /** A page of a patient's consents, in grant order. */
  consentsOfPatient(patient: Did, page: PageRequest): Page<ConsentRow> {
    return this.page(this.statements.consentsOfPatient, patient, page, consentRow);
  }
  /** Unrevoked, unexpired consents of `patient` to any of `grantees`, in grant order. */
  liveConsents(query: { patient: Did; grantees: Did[]; time: number; limit: number }): ConsentRow[] {
    const all = this.consentsOf(query.patient);
    if (all === null) {
      const rows = this.statements.liveConsents.all(
        query.patient,
        list(query.grantees),
        query.time,
        query.limit,
      ) as Row[];
      return rows.map(consentRow);
    }
    const out: ConsentRow[] = [];
    for (const consent of all) {
      if (out.length >= query.limit) break;
      const live = consent.revokedAt === null && consent.expires > query.time;
      if (live && query.grantees.includes(consent.grantee)) out.push(copyConsent(consent));
    }
    return out;
  }
  /** Revoked or expired consents of `patient` to `grantees`, newest first. */
  endedConsents(query: { patient: Did; grantees: Did[]; time: number; limit: number }): ConsentRow[] {
    const { patient, grantees, time, limit } = query;
    const all = this.consentsOf(patient);
    if (all === null) {
      const rows = (
        grantees.length >= 1 && grantees.length <= 2
          ? this.statements.endedConsents2.all(patient, grantees[0], grantees[1] ?? grantees[0], time, limit)
          : this.statements.endedConsents.all(patient, list(grantees), time, limit)
      ) as Row[];
      return rows.map(consentRow);
    }
    const out: ConsentRow[] = [];
    for (let index = all.length - 1; index >= 0 && out.length < limit; index--) {
      const consent = all[index] as ConsentRow;
      const ended = consent.revokedAt !== null || consent.expires <= time;
      if (ended && grantees.includes(consent.grantee)) out.push(copyConsent(consent));
    }
    return out;
  }

  /** Every consent of `patient` in grant order, or null when there are too many to cache. */
  private consentsOf(patient: Did): ConsentRow[] | null {
    const cached = this.consents.get(patient);
    if (cached !== undefined) return cached;
    const rows = this.statements.allConsents.all(patient, state_cache_consents_max + 1) as Row[];
    const all = rows.length > state_cache_consents_max ? null : rows.map(consentRow);
    this.consents.fill(patient, all);
    return all;
  }

  /** The break-glass `id`, or null. */
  getEmergency(id: Hash): EmergencyRow | null {
    const row = this.statements.getEmergency.get(id) as Row | undefined;
    return row === undefined ? null : emergencyRow(row);
  }
  /** Inserts a break-glass. */
  putEmergency(row: EmergencyRow): void {
    this.statements.putEmergency.run(
      row.id,
      row.provider,
      row.patient,
      row.reason,
      row.from,
      row.until,
      row.height,
      row.txIndex,
    );
  }
  /** Break-glasses by `provider` for `patient` active at `time`, oldest first. */
  activeEmergencies(query: { patient: Did; provider: Did; time: number; limit: number }): EmergencyRow[] {
    const { patient, provider, time, limit } = query;
    const rows = this.statements.activeEmergencies.all(patient, provider, time, time, limit) as Row[];
    return rows.map(emergencyRow);
  }
  /** The most recent break-glass by `provider` for `patient`, or null. */
  latestEmergency(patient: Did, provider: Did): EmergencyRow | null {
    const row = this.statements.latestEmergency.get(patient, provider) as Row | undefined;
    return row === undefined ? null : emergencyRow(row);
  }
  /** A page of the break-glasses declared for a patient, oldest first. */
  emergenciesOfPatient(patient: Did, page: PageRequest): Page<EmergencyRow> {
    return this.page(this.statements.emergenciesOfPatient, patient, page, emergencyRow);
  }

  /** Appends an audit entry (positions of one patient's entries strictly increase). */
  putAudit(row: AuditRow): void {
    const patient = this.refOf(row.patient);
    const [height, txIndex] = this.lastAuditOf(patient);
    invariant(
      height < row.height || (height === row.height && txIndex < row.txIndex),
      "audit entries are appended in order",
    );
    this.statements.putAudit.run(
      row.tx,
      row.height,
      row.txIndex,
      row.time,
      this.refOf(row.provider),
      patient,
      this.refOf(row.category),
      row.record === null ? null : this.refOf(row.record),
      this.refOf(row.purpose),
      this.refOf(row.decision),
      this.refOf(row.code),
      row.cites === null ? null : this.refOf(row.cites),
      row.flagged ? 1 : 0,
    );
    this.lastAudits.write(patient, [row.height, row.txIndex]);
  }
  /** A page of a patient's audit trail, ordered by position. */
  auditOfPatient(patient: Did, page: PageRequest): Page<AuditRow> {
    checkPage(page);
    const ref = this.existingRefOf(patient);
    if (ref === null) return { items: [], next: null };
    return this.page(this.statements.auditOfPatient, ref, page, (row) => this.auditRow(row));
  }

  private lastAuditOf(patient: number): AuditPosition {
    const cached = this.lastAudits.get(patient);
    if (cached !== undefined) return cached;
    const row = this.statements.lastAudit.get(patient) as Row | undefined;
    const last: AuditPosition = row === undefined ? NO_AUDIT : [row.height as number, row.tx_index as number];
    this.lastAudits.fill(patient, last);
    return last;
  }

  private auditRow(row: Row): AuditRow {
    return {
      tx: bytes(row.tx),
      height: row.height as number,
      txIndex: row.tx_index as number,
      time: row.time as number,
      provider: this.textOf(row.provider) as Did,
      patient: this.textOf(row.patient) as Did,
      category: this.textOf(row.category) as AuditRow["category"],
      record: row.record === null ? null : (this.textOf(row.record) as RecordId),
      purpose: this.textOf(row.purpose) as AuditRow["purpose"],
      decision: this.textOf(row.decision) as AuditRow["decision"],
      code: this.textOf(row.code),
      cites: row.cites === null ? null : new Uint8Array(this.bytesOf(row.cites)),
      flagged: row.flagged === 1,
    };
  }

  /** The reference of `value` in `atoms`, interning it if it is new. */
  private refOf(value: Atom): number {
    const found = this.existingRefOf(value);
    if (found !== null) return found;
    const ref = Number(this.statements.putAtom.run(value).lastInsertRowid);
    this.refCache(value).write(atomKey(value), ref);
    this.atomValues.write(ref, value);
    return ref;
  }

  /** The reference of `value` in `atoms`, or null when it was never interned. */
  private existingRefOf(value: Atom): number | null {
    const cache = this.refCache(value);
    const key = atomKey(value);
    const cached = cache.get(key);
    if (cached !== undefined) return cached;
    const row = this.statements.atomRef.get(value) as Row | undefined;
    if (row === undefined) return null;
    const ref = row.ref as number;
    cache.fill(key, ref);
    this.atomValues.fill(ref, value);
    return ref;
  }

  private refCache(value: Atom): ScopedCache<string, number> {
    return typeof value === "string" ? this.textRefs : this.blobRefs;
  }

  /** The value interned as `ref`. */
  private atomOf(ref: unknown): Atom {
    const cached = this.atomValues.get(ref as number);
    if (cached !== undefined) return cached;
    const row = this.statements.atomValue.get(ref) as Row | undefined;
    invariant(row !== undefined, "every audit reference is interned");
    const value = typeof row.value === "string" ? row.value : new Uint8Array(bytes(row.value));
    this.atomValues.fill(ref as number, value);
    return value;
  }

  private textOf(ref: unknown): string {
    const value = this.atomOf(ref);
    invariant(typeof value === "string", "a text reference names text");
    return value;
  }

  private bytesOf(ref: unknown): Uint8Array {
    const value = this.atomOf(ref);
    invariant(value instanceof Uint8Array, "a bytes reference names bytes");
    return value;
  }

  /** True when transaction id `id` is remembered. */
  hasSeen(id: Hash): boolean {
    return this.statements.hasSeen.get(id) !== undefined;
  }
  /** Remembers `id` until `expires` (inclusive). */
  putSeen(id: Hash, expires: number): void {
    this.statements.putSeen.run(id, expires);
  }
  /** Forgets every id whose `expires` is before `time`; returns how many. */
  pruneSeen(time: number): number {
    return this.statements.pruneSeen.run(time).changes;
  }

  private page<T extends Position>(
    statement: Database.Statement,
    patient: Did | number,
    page: PageRequest,
    toRow: (row: Row) => T,
  ): Page<T> {
    checkPage(page);
    const after = page.after ?? START;
    const rows = statement.all(patient, after.height, after.txIndex, page.limit) as Row[];
    const items = rows.map(toRow);
    const last = items[items.length - 1];
    const next =
      items.length === page.limit && last !== undefined
        ? { height: last.height, txIndex: last.txIndex }
        : null;
    return { items, next };
  }
}

function memberRow(row: Row): MemberRow {
  return {
    did: row.did as Did,
    nodes: parseList(row.nodes),
    admittedHeight: row.admitted_height as number,
  };
}

function recordRow(row: Row): RecordRow {
  return {
    record: row.record as RecordId,
    patient: row.patient as Did,
    holder: row.holder as Did,
    provider: row.provider as Did,
    category: row.category as RecordRow["category"],
    format: row.format as string,
    contentHash: bytes(row.content_hash),
    erased: row.erased === 1,
    erasedAt: row.erased_at as number | null,
    anchorTx: bytes(row.anchor_tx),
    height: row.height as number,
    txIndex: row.tx_index as number,
  };
}

function consentRow(row: Row): ConsentRow {
  return {
    id: bytes(row.id),
    patient: row.patient as Did,
    grantee: row.grantee as Did,
    categories: parseList(row.categories),
    records: parseList(row.records),
    purposes: parseList(row.purposes),
    notBefore: row.not_before as number,
    expires: row.expires as number,
    revokedAt: row.revoked_at as number | null,
    height: row.height as number,
    txIndex: row.tx_index as number,
  };
}

function emergencyRow(row: Row): EmergencyRow {
  return {
    id: bytes(row.id),
    provider: row.provider as Did,
    patient: row.patient as Did,
    reason: row.reason as string,
    from: row.from_time as number,
    until: row.until as number,
    height: row.height as number,
    txIndex: row.tx_index as number,
  };
}

function checkPage(page: PageRequest): void {
  check(
    Number.isSafeInteger(page.limit) && page.limit >= 1 && page.limit <= limits.state_page_max,
    "FIELD_INVALID",
    `a page holds 1 to ${limits.state_page_max} rows`,
    "limit",
  );
}

/** The key of an atom in its cache: the text itself, or the bytes in hex. */
function atomKey(value: Atom): string {
  return typeof value === "string" ? value : Buffer.from(value).toString("hex");
}

function copyIdentity(row: IdentityRow): IdentityRow {
  return { ...row, licenseHash: row.licenseHash === null ? null : new Uint8Array(row.licenseHash) };
}

function copyPatient(row: PatientRow): PatientRow {
  return {
    did: row.did,
    guardians: [...row.guardians],
    threshold: row.threshold,
    emergencyScope: row.emergencyScope === null ? null : [...row.emergencyScope],
  };
}

function copyConsent(row: ConsentRow): ConsentRow {
  return {
    ...row,
    id: new Uint8Array(row.id),
    categories: [...row.categories],
    records: [...row.records],
    purposes: [...row.purposes],
  };
}
