/**
 * The pure state-transition rules: genesis, one transaction, one block, and the access decision.
 * Signatures are verified statelessly before (tx.ts); here every check is against the state and the
 * block (time, height, chain). A transaction that is not shown to be its signers' act (a key that is
 * not current, a wrong signature set) is rejected with nothing written: its id stays free for the
 * genuine transaction, and nobody's audit trail is written in another's name. An authentic
 * transaction whose rules fail is kept with a stable reason code: only its replay record (and, for
 * access.log, its audit entry) is written. Reason codes, decisions
 * and the app hash are deterministic: the same blocks give the same state and app hash everywhere.
 */
import { encode, rfc8949EncodeOptions } from "cborg";
import { bytesEqual, concatBytes, sha256, utf8 } from "./bytes.js";
import { encodeModel } from "./encoding.js";
import { check, invariant, ProtocolError } from "./errors.js";
import { type Genesis, parseGenesis } from "./genesis.js";
import { isTxKind, parseBody } from "./kinds.js";
import {
  block_txs_max,
  consents_ended_scan_max,
  consents_live_per_grantee_max,
  emergency_duration_default_ms,
  hash_bytes,
  members_max,
  proposal_ttl_max_ms,
  tx_signatures_max,
  tx_ttl_max_ms,
} from "./limits.js";
import {
  type AuditRow,
  type ConsentRow,
  type EmergencyRow,
  type IdentityRow,
  type MemberRow,
  type PatientRow,
  type ProposalRow,
  RecordingStateStore,
  type RecordRow,
  type StateStore,
  type VoteRow,
  type WriteRecord,
} from "./state.js";
import type {
  AccessDecision,
  AccessLogBody,
  Did,
  Hash,
  RecordId,
  SignedTx,
  TxBodies,
  TxKind,
  TxResult,
} from "./types.js";
import { type Category, DEFAULT_EMERGENCY_SCOPE, type Purpose } from "./vocabulary.js";

/** Every reason code a TxResult or an access decision carries, with its meaning. Codes never change. */
export const REASON_CODES = {
  ok: "the transaction took effect",
  consent: "access permitted: an active consent covers it (cited)",
  emergency: "access permitted by an active break-glass (cited, flagged)",
  "kind-unknown": "the transaction kind is not one this protocol defines",
  "chain-mismatch": "the transaction is for another chain",
  "tx-expired": "the transaction's expires is before the block time",
  "tx-expires-too-far": "the transaction's expires is more than tx_ttl_max_ms after the block time",
  "tx-replayed": "the transaction id was already applied within its validity window",
  "body-invalid": "the body breaks a stateless rule of its kind",
  "signer-mismatch": "the first signature is not by the envelope's signer",
  "signature-count": "the kind takes another number of signatures",
  "duplicate-signer": "two signatures are by the same identity",
  "key-not-current": "a signature's key is not the current key of its signer",
  "signer-not-member": "the signer is not a current member",
  "signer-not-provider": "the signer (or the provider asked about) is not a registered provider",
  "signer-not-patient": "the signer is not a registered patient",
  "provider-suspended": "the provider is suspended",
  "provider-member-removed": "the provider's member is no longer a member",
  "identity-exists": "the identity is already registered",
  "identity-unknown": "the identity is not registered",
  "identity-suspended": "the identity is suspended",
  "key-in-use": "the key is, or was, used by an identity",
  "role-cannot-rotate": "node keys change by a member.propose update, not by key.rotate",
  "proposal-deadline-invalid": "the deadline is not after the block time or beyond proposal_ttl_max_ms",
  "member-exists": "the member to add is already a member",
  "member-unknown": "the member to update or remove is not a member",
  "members-full": "the consortium already has members_max members",
  "last-member": "the last member cannot be removed",
  "proposal-unknown": "no such proposal",
  "proposal-closed": "the proposal has already passed",
  "proposal-expired": "the proposal's deadline has passed",
  "already-voted": "the member has already voted on this proposal (votes cannot change)",
  "provider-unknown": "no such provider",
  "not-providers-member": "only the provider's member may do this",
  "already-suspended": "the provider is already suspended",
  "patient-unknown": "the patient is not registered",
  "guardian-is-patient": "a patient cannot be its own guardian",
  "signer-not-guardian": "a signer of the recovery is not a guardian of the patient",
  "guardian-threshold-not-met": "fewer distinct guardians signed than the patient's threshold",
  "record-exists": "the record id is already anchored",
  "record-unknown": "no such record anchored for this patient",
  "record-not-own": "the record belongs to another patient",
  "record-already-erased": "the record is already erased",
  "record-category-mismatch": "the access names another category than the record's anchor",
  "record-erased": "the record was erased",
  "grantee-unknown": "the grantee is neither a registered provider nor a current member",
  "consent-already-expired": "the consent's expires is not after the block time",
  "too-many-consents": "the patient holds consents_live_per_grantee_max live consents for this grantee",
  "consent-unknown": "no such consent",
  "consent-not-own": "the consent belongs to another patient",
  "consent-already-revoked": "the consent is already revoked",
  "no-consent": "no consent of the patient to this provider or its member covers the access",
  "consent-not-yet-valid": "a covering consent has not started yet (notBefore is after the time)",
  "consent-expired": "the covering consent has expired",
  "consent-revoked": "the covering consent was revoked",
  "purpose-not-granted": "a current consent covers the data but not this purpose",
  "category-not-granted": "current consents exist but none covers this category or record",
  "emergency-scope-excluded":
    "an active break-glass does not reach this category (sensitive or outside the scope)",
  "emergency-expired": "the provider's break-glass for this patient has ended",
  "emergency-active": "the provider already has an active break-glass for this patient",
} as const;

/** A stable reason code. */
export type ReasonCode = keyof typeof REASON_CODES;

/** What the node publishes after a block: notifications, erasures, membership and key changes. */
export type LedgerEvent =
  | {
      type: "membership";
      /** The proposal that passed, or null for the founders at genesis. */
      proposal: Hash | null;
      action: "add" | "update" | "remove";
      member: Did;
      /** Node keys that join the consensus membership. */
      added: Did[];
      /** Node keys that leave it. */
      removed: Did[];
    }
  | { type: "break-glass"; patient: Did; provider: Did; emergency: Hash; reason: string; until: number }
  | {
      type: "access";
      patient: Did;
      provider: Did;
      tx: Hash;
      category: Category;
      purpose: Purpose;
      record: RecordId | null;
      decision: AccessDecision;
      code: ReasonCode;
      cites: Hash | null;
      flagged: boolean;
    }
  | { type: "record-erased"; holder: Did; patient: Did; record: RecordId; contentHash: Hash; tx: Hash }
  | { type: "key-changed"; identity: Did; key: Did; how: "rotate" | "recover" };

/** Where a transaction is applied: the block's chain, height and time, and its index in the block. */
export interface TxContext {
  chain: string;
  height: number;
  time: number;
  txIndex: number;
}

/** The outcome of one transaction: its result (goes into the block) and the events to publish. */
export interface TxOutcome {
  result: TxResult;
  events: LedgerEvent[];
}

/** A block to apply: its header fields the rules need and its transactions with their ids. */
export interface BlockInput {
  chain: string;
  height: number;
  time: number;
  /** The app hash after the previous block (or after genesis, for height 1). */
  prevAppHash: Hash;
  txs: Array<{ signed: SignedTx; id: Hash }>;
}

/** The outcome of one block: one result per transaction, the new app hash, and the events in order. */
export interface BlockOutcome {
  results: TxResult[];
  appHash: Hash;
  events: LedgerEvent[];
  /** Every write the block made, in order (what the app hash chains; replayBlock re-applies them). */
  writes: WriteRecord[];
}

/** An access question: may `provider` read `category` (or `record`) of `patient` for `purpose`? */
export interface AccessRequest {
  provider: Did;
  patient: Did;
  category: Category;
  purpose: Purpose;
  record?: RecordId;
}

/** The answer the rules give to an access question. */
export interface AccessVerdict {
  decision: AccessDecision;
  code: ReasonCode;
  /** The consent or break-glass relied on, or null when denied. */
  cites: Hash | null;
  flagged: boolean;
}

const APP_HASH_DOMAIN = utf8("medledger/app/v1\n");
const ZERO_HASH = new Uint8Array(hash_bytes);

/**
 * The app hash after a block: sha256(utf8("medledger/app/v1\n") || prevAppHash || height as 8 bytes
 * big-endian || sha256(the write log as a CBOR sequence: each record [table, key, value] encoded
 * with cborg's RFC 8949 canonical options, concatenated in the order the writes were made))).
 */
export function computeAppHash(prevAppHash: Hash, height: number, log: readonly WriteRecord[]): Hash {
  const encodings = log.map((record) => encodeModel(record) ?? encode(record, rfc8949EncodeOptions));
  const sequence = new Uint8Array(encodings.reduce((total, encoding) => total + encoding.length, 0));
  let offset = 0;
  for (const encoding of encodings) {
    sequence.set(encoding, offset);
    offset += encoding.length;
  }
  return sha256(concatBytes(APP_HASH_DOMAIN, prevAppHash, uint64(height), sha256(sequence)));
}

/** Applies a genesis to an empty store: founders, their node keys, the chain state; returns the app hash. */
export function applyGenesis(store: StateStore, genesis: Genesis): { appHash: Hash; events: LedgerEvent[] } {
  const valid = parseGenesis(genesis);
  check(store.getChain() === null, "BLOCK_INVALID", "the state already has a genesis");
  const recorder = new RecordingStateStore(store);
  recorder.log.push(["genesis", valid.chain, { chain: valid.chain, time: valid.time }]);
  const events: LedgerEvent[] = [];
  for (const founder of valid.members) {
    putNewIdentity(recorder, founder.member, "member", null, null);
    recorder.putMember({ did: founder.member, nodes: [...founder.nodes], admittedHeight: 0 });
    for (const node of founder.nodes) bindNode(recorder, node, founder.member);
    events.push(membershipEvent(null, "add", founder.member, founder.nodes, []));
  }
  const appHash = computeAppHash(ZERO_HASH, 0, recorder.log);
  store.putChain({ chain: valid.chain, genesisTime: valid.time, height: 0, time: valid.time, appHash });
  return { appHash, events };
}

/** Applies a block's transactions in order; checks the block follows the state; returns results and app hash. */
export function applyBlock(store: StateStore, block: BlockInput): BlockOutcome {
  const state = store.getChain();
  if (state === null) throw new ProtocolError("BLOCK_INVALID", "the state has no genesis");
  check(block.chain === state.chain, "CHAIN_MISMATCH", "the block is for another chain", "chain");
  check(block.height === state.height + 1, "BLOCK_INVALID", "the block does not follow the state", "height");
  check(block.time >= state.time, "BLOCK_INVALID", "the block time goes backwards", "time");
  check(bytesEqual(block.prevAppHash, state.appHash), "BLOCK_INVALID", "prevAppHash differs", "prevAppHash");
  check(block.txs.length <= block_txs_max, "BLOCK_INVALID", "too many transactions", "txs");
  const recorder = new RecordingStateStore(store);
  recorder.pruneSeen(block.time);
  const results: TxResult[] = [];
  const events: LedgerEvent[] = [];
  block.txs.forEach(({ signed, id }, txIndex) => {
    const context = { chain: block.chain, height: block.height, time: block.time, txIndex };
    const outcome = applyTx(recorder, context, signed, id);
    results.push(outcome.result);
    events.push(...outcome.events);
  });
  const appHash = computeAppHash(block.prevAppHash, block.height, recorder.log);
  store.putChain({ ...state, height: block.height, time: block.time, appHash });
  return { results, appHash, events, writes: recorder.log };
}

/**
 * Makes on `store` exactly the writes of `outcome`, which applyBlock computed for `block` on a state
 * equal to `store`'s (e.g. a leader's dry run of the block it then commits): the same final state as
 * running the rules again, without running them. The caller guarantees the states are equal; the
 * store's chain state must be the one the block follows.
 */
export function replayBlock(
  store: StateStore,
  block: { height: number; time: number; prevAppHash: Hash },
  outcome: BlockOutcome,
): BlockOutcome {
  const state = store.getChain();
  if (state === null) throw new ProtocolError("BLOCK_INVALID", "the state has no genesis");
  check(block.height === state.height + 1, "BLOCK_INVALID", "the block does not follow the state", "height");
  check(bytesEqual(block.prevAppHash, state.appHash), "BLOCK_INVALID", "prevAppHash differs", "prevAppHash");
  for (const write of outcome.writes) replayWrite(store, write);
  store.putChain({ ...state, height: block.height, time: block.time, appHash: outcome.appHash });
  return outcome;
}

function replayWrite(store: StateStore, [table, key, value]: WriteRecord): void {
  switch (table) {
    case "identity":
      store.putIdentity(value as IdentityRow);
      return;
    case "key":
      store.putKeyOwner(key as Did, value as Did);
      return;
    case "member":
      if (value === null) store.deleteMember(key as Did);
      else store.putMember(value as MemberRow);
      return;
    case "proposal":
      store.putProposal(value as ProposalRow);
      return;
    case "vote":
      store.putVote(value as VoteRow);
      return;
    case "patient":
      store.putPatient(value as PatientRow);
      return;
    case "record":
      store.putRecord(value as RecordRow);
      return;
    case "consent":
      store.putConsent(value as ConsentRow);
      return;
    case "emergency":
      store.putEmergency(value as EmergencyRow);
      return;
    case "audit":
      store.putAudit(value as AuditRow);
      return;
    case "seen":
      store.putSeen(key as Hash, value as number);
      return;
    case "seen-prune":
      store.pruneSeen(key as number);
      return;
    default:
      throw new ProtocolError("BLOCK_INVALID", `a write to an unknown table ${table}`, { field: "writes" });
  }
}

/**
 * Applies one transaction (signatures already verified statelessly); never throws on bad input.
 * Authenticity comes first and writes nothing when it fails (checkSignerKeys, then the guardian set
 * of a key.recover); only then is the id checked against replays and consumed.
 */
export function applyTx(store: StateStore, context: TxContext, signed: SignedTx, txId: Hash): TxOutcome {
  const { tx } = signed;
  if (!isTxKind(tx.kind)) return rejected("kind-unknown");
  const body = tryParseBody(tx.kind, tx.body);
  const inauthentic = authenticity(store, tx.kind, body, signed);
  if (inauthentic !== null) return rejected(inauthentic);
  const envelopeCode = checkEnvelope(store, context, signed, txId);
  if (envelopeCode === null) store.putSeen(txId, tx.expires);
  const code = envelopeCode ?? (body === null ? "body-invalid" : null);
  const apply: Apply = {
    store,
    ...context,
    id: txId,
    signer: tx.signer,
    signers: signed.sigs.map((s) => s.signer),
  };
  if (code !== null) {
    return tx.kind === "access.log" && body !== null
      ? logAccess(apply, body as AccessLogBody, denied(code))
      : rejected(code);
  }
  const outcome = dispatch(apply, tx.kind, body as TxBodies[TxKind]);
  return typeof outcome === "string" ? rejected(outcome) : outcome;
}

/** The decision the rules would give now to an access (a pure read, for the API's access check). */
export function checkAccess(store: StateStore, request: AccessRequest, time: number): AccessVerdict {
  const provider = store.getIdentity(request.provider);
  const providerCode = providerProblem(store, provider);
  if (providerCode !== null || provider === null) return denied(providerCode ?? "signer-not-provider");
  const patient = store.getPatient(request.patient);
  if (patient === null) return denied("patient-unknown");
  if (request.record !== undefined) {
    const record = store.getRecord(request.record);
    if (record === null || record.patient !== request.patient) return denied("record-unknown");
    if (record.category !== request.category) return denied("record-category-mismatch");
    if (record.erased) return denied("record-erased");
  }
  const grantees = provider.member === null ? [provider.did] : [provider.did, provider.member];
  const live = store.liveConsents({
    patient: request.patient,
    grantees,
    time,
    limit: consents_live_per_grantee_max * grantees.length,
  });
  const permitting = live.find((consent) => consent.notBefore <= time && covers(consent, request));
  if (permitting !== undefined)
    return { decision: "permitted", code: "consent", cites: permitting.id, flagged: false };
  const emergency =
    request.purpose === "ETREAT"
      ? (store.activeEmergencies({
          patient: request.patient,
          provider: request.provider,
          time,
          limit: 1,
        })[0] ?? null)
      : null;
  if (emergency !== null && emergencyScope(patient).includes(request.category)) {
    return { decision: "emergency", code: "emergency", cites: emergency.id, flagged: true };
  }
  return denied(
    denialReason(store, { request, grantees, live, time, hasActiveEmergency: emergency !== null }),
  );
}

// ---------------------------------------------------------------------------------------------
// Envelope and signatures.

/** What a handler sees: the store, the block context, the transaction id and its signers. */
interface Apply extends TxContext {
  store: StateStore;
  id: Hash;
  signer: Did;
  signers: Did[];
}

/** A handler's answer: the outcome, or a reason code when a rule fails (then nothing was written). */
type Handled = TxOutcome | ReasonCode;

function checkEnvelope(
  store: StateStore,
  context: TxContext,
  signed: SignedTx,
  txId: Hash,
): ReasonCode | null {
  const { tx } = signed;
  if (tx.chain !== context.chain) return "chain-mismatch";
  if (!Number.isSafeInteger(tx.expires) || tx.expires < context.time) return "tx-expired";
  if (tx.expires > context.time + tx_ttl_max_ms) return "tx-expires-too-far";
  if (store.hasSeen(txId)) return "tx-replayed";
  return null;
}

/**
 * The stateful authenticity check of a transaction, alone: the number of signatures its kind takes,
 * the first by the envelope's signer, no identity twice, and each signature's key the current key of
 * its signer identity (the signer's own DID for an unregistered identity). Returns the reason code
 * (signature-count, signer-mismatch, duplicate-signer, key-not-current) or null. applyTx runs it before
 * anything is written; a mempool runs it at admission.
 */
export function checkSignerKeys(store: StateStore, signed: SignedTx): ReasonCode | null {
  const { tx, sigs } = signed;
  const first = sigs[0];
  if (first === undefined || sigs.length > tx_signatures_max) return "signature-count";
  if (tx.kind !== "key.recover" && sigs.length !== 1) return "signature-count";
  if (first.signer !== tx.signer) return "signer-mismatch";
  const signers = new Set<Did>();
  for (const sig of sigs) {
    if (signers.has(sig.signer)) return "duplicate-signer";
    signers.add(sig.signer);
    if (sig.key !== currentKey(store, sig.signer)) return "key-not-current";
  }
  return null;
}

/**
 * The reason codes of an inauthentic transaction: one that is not (provably) the named signer's. Such a
 * transaction is rejected without consuming its id and without an audit row, so a later authentic copy
 * with the same id can still take effect.
 */
export const AUTHENTICITY_CODES: ReadonlySet<ReasonCode> = new Set<ReasonCode>([
  "signature-count",
  "signer-mismatch",
  "duplicate-signer",
  "key-not-current",
  "signer-not-guardian",
  "guardian-threshold-not-met",
]);

/**
 * Whether the state would take `signed` as its signers' own: checkSignerKeys, then for a key.recover
 * the guardian set. Returns a code of AUTHENTICITY_CODES or null. A mempool runs it at admission.
 */
export function checkAuthenticity(store: StateStore, signed: SignedTx): ReasonCode | null {
  const kind = signed.tx.kind;
  if (!isTxKind(kind)) return null;
  return authenticity(store, kind, tryParseBody(kind, signed.tx.body), signed);
}

function authenticity(
  store: StateStore,
  kind: TxKind,
  body: TxBodies[TxKind] | null,
  signed: SignedTx,
): ReasonCode | null {
  return checkSignerKeys(store, signed) ?? checkSignatureSet(store, kind, body, signed);
}

/**
 * The key `signer` signs with now: a registered identity's current key; for an unregistered DID its own
 * key, unless that key belongs to another identity (it was rotated or recovered to it, or rotated away
 * from): then none, so a key that moved to an identity cannot also act under its own DID.
 */
function currentKey(store: StateStore, signer: Did): Did | null {
  const identity = store.getIdentity(signer);
  if (identity !== null) return identity.key;
  const owner = store.getKeyOwner(signer);
  return owner === null || owner === signer ? signer : null;
}

/**
 * The stateful rules that depend on which signatures a transaction carries rather than on what was
 * signed (the id): a key.recover's signers must all be guardians of the registered patient, and at least
 * its threshold. Checked before the id is consumed, so that a copy with a co-signature stripped or a
 * stranger's added cannot burn the id of the guardians' genuine recovery.
 */
function checkSignatureSet(
  store: StateStore,
  kind: TxKind,
  body: TxBodies[TxKind] | null,
  signed: SignedTx,
): ReasonCode | null {
  if (kind !== "key.recover" || body === null) return null;
  const patient = store.getPatient((body as TxBodies["key.recover"]).patient);
  if (patient === null) return null; // patient-unknown: a rule on the intent, for the handler
  if (signed.sigs.some((sig) => !patient.guardians.includes(sig.signer))) return "signer-not-guardian";
  if (patient.threshold < 1 || signed.sigs.length < patient.threshold) return "guardian-threshold-not-met";
  return null;
}

function tryParseBody(kind: TxKind, body: unknown): TxBodies[TxKind] | null {
  try {
    return parseBody(kind, body);
  } catch {
    return null;
  }
}

function dispatch(apply: Apply, kind: TxKind, body: TxBodies[TxKind]): Handled {
  switch (kind) {
    case "member.propose":
      return memberPropose(apply, body as TxBodies["member.propose"]);
    case "member.vote":
      return memberVote(apply, body as TxBodies["member.vote"]);
    case "provider.register":
      return providerRegister(apply, body as TxBodies["provider.register"]);
    case "provider.suspend":
      return providerSuspend(apply, body as TxBodies["provider.suspend"]);
    case "patient.register":
      return patientRegister(apply);
    case "patient.set-guardians":
      return patientSetGuardians(apply, body as TxBodies["patient.set-guardians"]);
    case "patient.set-emergency-scope":
      return patientSetEmergencyScope(apply, body as TxBodies["patient.set-emergency-scope"]);
    case "key.rotate":
      return keyRotate(apply, body as TxBodies["key.rotate"]);
    case "key.recover":
      return keyRecover(apply, body as TxBodies["key.recover"]);
    case "record.anchor":
      return recordAnchor(apply, body as TxBodies["record.anchor"]);
    case "consent.grant":
      return consentGrant(apply, body as TxBodies["consent.grant"]);
    case "consent.revoke":
      return consentRevoke(apply, body as TxBodies["consent.revoke"]);
    case "access.log":
      return accessLog(apply, body as TxBodies["access.log"]);
    case "emergency.declare":
      return emergencyDeclare(apply, body as TxBodies["emergency.declare"]);
    case "record.erase":
      return recordErase(apply, body as TxBodies["record.erase"]);
  }
}

// ---------------------------------------------------------------------------------------------
// Governance.

type MembershipChange = Pick<ProposalRow, "action" | "member" | "nodes">;

function memberPropose(apply: Apply, body: TxBodies["member.propose"]): Handled {
  const { store } = apply;
  if (store.getMember(apply.signer) === null) return "signer-not-member";
  if (body.deadline <= apply.time || body.deadline > apply.time + proposal_ttl_max_ms) {
    return "proposal-deadline-invalid";
  }
  const problem = membershipProblem(store, body);
  if (problem !== null) return problem;
  const proposal: ProposalRow = {
    id: apply.id,
    proposer: apply.signer,
    action: body.action,
    member: body.member,
    nodes: [...body.nodes],
    deadline: body.deadline,
    status: "open",
    approvals: 1,
    rejections: 0,
    height: apply.height,
    txIndex: apply.txIndex,
  };
  store.putVote({ proposal: apply.id, voter: apply.signer, approve: true, height: apply.height });
  return settleProposal(apply, proposal);
}

function memberVote(apply: Apply, body: TxBodies["member.vote"]): Handled {
  const { store } = apply;
  if (store.getMember(apply.signer) === null) return "signer-not-member";
  const proposal = store.getProposal(body.proposal);
  if (proposal === null) return "proposal-unknown";
  if (proposal.status !== "open") return "proposal-closed";
  if (apply.time > proposal.deadline) return "proposal-expired";
  if (store.getVote(proposal.id, apply.signer) !== null) return "already-voted";
  const next: ProposalRow = {
    ...proposal,
    approvals: proposal.approvals + (body.approve ? 1 : 0),
    rejections: proposal.rejections + (body.approve ? 0 : 1),
  };
  if (passes(store, next)) {
    const problem = membershipProblem(store, next);
    if (problem !== null) return problem;
  }
  store.putVote({ proposal: proposal.id, voter: apply.signer, approve: body.approve, height: apply.height });
  return settleProposal(apply, next);
}

/** A proposal passes when more than half of the current members approve. */
function passes(store: StateStore, proposal: ProposalRow): boolean {
  return proposal.approvals * 2 > store.countMembers();
}

function settleProposal(apply: Apply, proposal: ProposalRow): TxOutcome {
  if (!passes(apply.store, proposal)) {
    apply.store.putProposal(proposal);
    return ok([]);
  }
  apply.store.putProposal({ ...proposal, status: "passed" });
  return ok([executeMembershipChange(apply, proposal)]);
}

/** Why a membership change cannot take effect now, or null when it can. */
function membershipProblem(store: StateStore, change: MembershipChange): ReasonCode | null {
  const current = store.getMember(change.member);
  if (change.action === "add") {
    if (current !== null) return "member-exists";
    if (store.countMembers() >= members_max) return "members-full";
    const identity = store.getIdentity(change.member);
    if (identity === null ? store.getKeyOwner(change.member) !== null : identity.role !== "member") {
      return "key-in-use";
    }
  } else {
    if (current === null) return "member-unknown";
    if (change.action === "remove" && store.countMembers() <= 1) return "last-member";
  }
  const taken = change.nodes.some((node) => !nodeAvailable(store, node, change.member));
  return taken ? "key-in-use" : null;
}

/** True when `node` can be bound to `member`: unused, or already a node key of that member. */
function nodeAvailable(store: StateStore, node: Did, member: Did): boolean {
  const identity = store.getIdentity(node);
  if (identity === null) return store.getKeyOwner(node) === null;
  return identity.role === "node" && identity.member === member;
}

function executeMembershipChange(apply: Apply, proposal: ProposalRow): LedgerEvent {
  const { store } = apply;
  const before = store.getMember(proposal.member);
  const oldNodes = before?.nodes ?? [];
  const newNodes = proposal.action === "remove" ? [] : proposal.nodes;
  const added = newNodes.filter((node) => !oldNodes.includes(node));
  const removed = oldNodes.filter((node) => !newNodes.includes(node));
  for (const node of removed) suspendIdentity(store, node);
  for (const node of added) bindNode(store, node, proposal.member);
  if (proposal.action === "remove") {
    store.deleteMember(proposal.member);
    suspendIdentity(store, proposal.member);
  } else {
    const row: MemberRow = before ?? { did: proposal.member, nodes: [], admittedHeight: apply.height };
    store.putMember({ ...row, nodes: [...newNodes] });
    activateMember(store, proposal.member);
  }
  return membershipEvent(proposal.id, proposal.action, proposal.member, added, removed);
}

function activateMember(store: StateStore, did: Did): void {
  const identity = store.getIdentity(did);
  if (identity === null) putNewIdentity(store, did, "member", null, null);
  else if (identity.status !== "active") store.putIdentity({ ...identity, status: "active" });
}

function bindNode(store: StateStore, node: Did, member: Did): void {
  const identity = store.getIdentity(node);
  if (identity === null) putNewIdentity(store, node, "node", member, null);
  else store.putIdentity({ ...identity, status: "active" });
}

function suspendIdentity(store: StateStore, did: Did): void {
  const identity = store.getIdentity(did);
  invariant(identity !== null, "a bound node or member has an identity");
  store.putIdentity({ ...identity, status: "suspended" });
}

function membershipEvent(
  proposal: Hash | null,
  action: ProposalRow["action"],
  member: Did,
  added: Did[],
  removed: Did[],
): LedgerEvent {
  return { type: "membership", proposal, action, member, added: [...added], removed: [...removed] };
}

// ---------------------------------------------------------------------------------------------
// Providers, patients, keys.

function providerRegister(apply: Apply, body: TxBodies["provider.register"]): Handled {
  const { store } = apply;
  if (store.getMember(apply.signer) === null) return "signer-not-member";
  const identity = store.getIdentity(body.provider);
  if (identity === null) {
    if (store.getKeyOwner(body.provider) !== null) return "key-in-use";
    putNewIdentity(store, body.provider, "provider", apply.signer, body.licenseHash);
    return ok([]);
  }
  const reinstates =
    identity.role === "provider" && identity.member === apply.signer && identity.status !== "active";
  if (!reinstates) return "identity-exists";
  store.putIdentity({ ...identity, status: "active", licenseHash: body.licenseHash });
  return ok([]);
}

function providerSuspend(apply: Apply, body: TxBodies["provider.suspend"]): Handled {
  const { store } = apply;
  if (store.getMember(apply.signer) === null) return "signer-not-member";
  const identity = store.getIdentity(body.provider);
  if (identity === null || identity.role !== "provider") return "provider-unknown";
  if (identity.member !== apply.signer) return "not-providers-member";
  if (identity.status === "suspended") return "already-suspended";
  store.putIdentity({ ...identity, status: "suspended" });
  return ok([]);
}

function patientRegister(apply: Apply): Handled {
  const { store } = apply;
  if (store.getIdentity(apply.signer) !== null) return "identity-exists";
  if (store.getKeyOwner(apply.signer) !== null) return "key-in-use";
  putNewIdentity(store, apply.signer, "patient", null, null);
  store.putPatient({ did: apply.signer, guardians: [], threshold: 0, emergencyScope: null });
  return ok([]);
}

function patientSetGuardians(apply: Apply, body: TxBodies["patient.set-guardians"]): Handled {
  const patient = apply.store.getPatient(apply.signer);
  if (patient === null) return "signer-not-patient";
  if (body.guardians.includes(apply.signer)) return "guardian-is-patient";
  apply.store.putPatient({ ...patient, guardians: [...body.guardians], threshold: body.threshold });
  return ok([]);
}

function patientSetEmergencyScope(apply: Apply, body: TxBodies["patient.set-emergency-scope"]): Handled {
  const patient = apply.store.getPatient(apply.signer);
  if (patient === null) return "signer-not-patient";
  apply.store.putPatient({ ...patient, emergencyScope: [...body.categories] });
  return ok([]);
}

function keyRotate(apply: Apply, body: TxBodies["key.rotate"]): Handled {
  const { store } = apply;
  const identity = store.getIdentity(apply.signer);
  if (identity === null) return "identity-unknown";
  if (identity.role === "node") return "role-cannot-rotate";
  if (identity.status !== "active") return "identity-suspended";
  if (store.getKeyOwner(body.newKey) !== null) return "key-in-use";
  return changeKey(store, identity, body.newKey, "rotate");
}

function keyRecover(apply: Apply, body: TxBodies["key.recover"]): Handled {
  const { store } = apply;
  const patient = store.getPatient(body.patient);
  const identity = store.getIdentity(body.patient);
  if (patient === null || identity === null) return "patient-unknown";
  // The guardian set and threshold were checked before the id was consumed (checkSignatureSet).
  invariant(
    apply.signers.every((signer) => patient.guardians.includes(signer)) &&
      apply.signers.length >= patient.threshold,
    "a recovery that reaches its handler is signed by enough guardians",
  );
  if (store.getKeyOwner(body.newKey) !== null) return "key-in-use";
  return changeKey(store, identity, body.newKey, "recover");
}

function changeKey(store: StateStore, identity: IdentityRow, key: Did, how: "rotate" | "recover"): TxOutcome {
  store.putIdentity({ ...identity, key });
  store.putKeyOwner(key, identity.did);
  return ok([{ type: "key-changed", identity: identity.did, key, how }]);
}

function putNewIdentity(
  store: StateStore,
  did: Did,
  role: IdentityRow["role"],
  member: Did | null,
  licenseHash: Hash | null,
): void {
  const license = licenseHash === null ? null : Uint8Array.from(licenseHash);
  store.putIdentity({ did, role, key: did, member, status: "active", licenseHash: license });
  store.putKeyOwner(did, did);
}

// ---------------------------------------------------------------------------------------------
// Records, consents, break-glass, access.

function recordAnchor(apply: Apply, body: TxBodies["record.anchor"]): Handled {
  const { store } = apply;
  const provider = store.getIdentity(apply.signer);
  const problem = providerProblem(store, provider);
  if (problem !== null || provider === null || provider.member === null)
    return problem ?? "signer-not-provider";
  if (store.getPatient(body.patient) === null) return "patient-unknown";
  if (store.getRecord(body.record) !== null) return "record-exists";
  store.putRecord({
    record: body.record,
    patient: body.patient,
    holder: provider.member,
    provider: provider.did,
    category: body.category,
    format: body.format,
    contentHash: body.contentHash,
    erased: false,
    erasedAt: null,
    anchorTx: apply.id,
    height: apply.height,
    txIndex: apply.txIndex,
  });
  return ok([]);
}

function recordErase(apply: Apply, body: TxBodies["record.erase"]): Handled {
  const { store } = apply;
  if (store.getPatient(apply.signer) === null) return "signer-not-patient";
  const record = store.getRecord(body.record);
  if (record === null) return "record-unknown";
  if (record.patient !== apply.signer) return "record-not-own";
  if (record.erased) return "record-already-erased";
  store.putRecord({ ...record, erased: true, erasedAt: apply.time });
  const { holder, patient, contentHash } = record;
  return ok([{ type: "record-erased", holder, patient, record: record.record, contentHash, tx: apply.id }]);
}

function consentGrant(apply: Apply, body: TxBodies["consent.grant"]): Handled {
  const { store } = apply;
  if (store.getPatient(apply.signer) === null) return "signer-not-patient";
  const grantee = store.getIdentity(body.grantee);
  if (grantee?.role !== "provider" && store.getMember(body.grantee) === null) return "grantee-unknown";
  if (body.expires <= apply.time) return "consent-already-expired";
  const foreign = body.records.some((record) => store.getRecord(record)?.patient !== apply.signer);
  if (foreign) return "record-unknown";
  const query = { patient: apply.signer, grantees: [body.grantee], time: apply.time };
  if (
    store.liveConsents({ ...query, limit: consents_live_per_grantee_max }).length >=
    consents_live_per_grantee_max
  ) {
    return "too-many-consents";
  }
  store.putConsent({
    id: apply.id,
    patient: apply.signer,
    grantee: body.grantee,
    categories: [...body.categories],
    records: [...body.records],
    purposes: [...body.purposes],
    notBefore: body.notBefore,
    expires: body.expires,
    revokedAt: null,
    height: apply.height,
    txIndex: apply.txIndex,
  });
  return ok([]);
}

function consentRevoke(apply: Apply, body: TxBodies["consent.revoke"]): Handled {
  const { store } = apply;
  if (store.getPatient(apply.signer) === null) return "signer-not-patient";
  const consent = store.getConsent(body.consent);
  if (consent === null) return "consent-unknown";
  if (consent.patient !== apply.signer) return "consent-not-own";
  if (consent.revokedAt !== null) return "consent-already-revoked";
  store.putConsent({ ...consent, revokedAt: apply.time });
  return ok([]);
}

function emergencyDeclare(apply: Apply, body: TxBodies["emergency.declare"]): Handled {
  const { store } = apply;
  const problem = providerProblem(store, store.getIdentity(apply.signer));
  if (problem !== null) return problem;
  if (store.getPatient(body.patient) === null) return "patient-unknown";
  const query = { patient: body.patient, provider: apply.signer, time: apply.time, limit: 1 };
  if (store.activeEmergencies(query).length > 0) return "emergency-active";
  const until = apply.time + (body.durationMs ?? emergency_duration_default_ms);
  store.putEmergency({
    id: apply.id,
    provider: apply.signer,
    patient: body.patient,
    reason: body.reason,
    from: apply.time,
    until,
    height: apply.height,
    txIndex: apply.txIndex,
  });
  const event: LedgerEvent = {
    type: "break-glass",
    patient: body.patient,
    provider: apply.signer,
    emergency: apply.id,
    reason: body.reason,
    until,
  };
  return { result: { status: "ok", code: "ok", flagged: true }, events: [event] };
}

function accessLog(apply: Apply, body: AccessLogBody): Handled {
  const request: AccessRequest = { provider: apply.signer, ...body };
  return logAccess(apply, body, checkAccess(apply.store, request, apply.time));
}

/** Writes the audit entry of an access.log and answers with its result and the patient's notification. */
function logAccess(apply: Apply, body: AccessLogBody, verdict: AccessVerdict): TxOutcome {
  const row: AuditRow = {
    tx: apply.id,
    height: apply.height,
    txIndex: apply.txIndex,
    time: apply.time,
    provider: apply.signer,
    patient: body.patient,
    category: body.category,
    record: body.record ?? null,
    purpose: body.purpose,
    decision: verdict.decision,
    code: verdict.code,
    cites: verdict.cites,
    flagged: verdict.flagged,
  };
  apply.store.putAudit(row);
  const result: TxResult = {
    status: verdict.decision === "denied" ? "rejected" : "ok",
    code: verdict.code,
    decision: verdict.decision,
    flagged: verdict.flagged,
  };
  if (verdict.cites !== null) result.cites = verdict.cites;
  const { tx, patient, provider, category, purpose, record, decision, cites, flagged } = row;
  const event: LedgerEvent = {
    type: "access",
    ...{ tx, patient, provider, category, purpose, record, decision, cites, flagged },
    code: verdict.code,
  };
  return { result, events: [event] };
}

/** Why `identity` cannot act as a provider now, or null when it can. */
function providerProblem(store: StateStore, identity: IdentityRow | null): ReasonCode | null {
  if (identity === null || identity.role !== "provider" || identity.member === null)
    return "signer-not-provider";
  if (identity.status !== "active") return "provider-suspended";
  if (store.getMember(identity.member) === null) return "provider-member-removed";
  return null;
}

function covers(consent: ConsentRow, request: AccessRequest): boolean {
  return scopeCovers(consent, request) && consent.purposes.includes(request.purpose);
}

function scopeCovers(consent: ConsentRow, request: AccessRequest): boolean {
  if (consent.categories.includes(request.category)) return true;
  return request.record !== undefined && consent.records.includes(request.record);
}

function emergencyScope(patient: PatientRow): readonly Category[] {
  return patient.emergencyScope ?? DEFAULT_EMERGENCY_SCOPE;
}

/**
 * The most specific reason to deny, in this fixed order: a covering consent not started yet; the
 * newest covering consent that ended (revoked, else expired); for ETREAT, a break-glass that does not
 * reach the category or has ended; a current consent for the data without the purpose; current
 * consents for other data; no consent at all.
 */
function denialReason(
  store: StateStore,
  query: {
    request: AccessRequest;
    grantees: Did[];
    live: ConsentRow[];
    time: number;
    hasActiveEmergency: boolean;
  },
): ReasonCode {
  const { request, live, time } = query;
  if (live.some((consent) => consent.notBefore > time && covers(consent, request)))
    return "consent-not-yet-valid";
  const ended = store.endedConsents({
    patient: request.patient,
    grantees: query.grantees,
    time,
    limit: consents_ended_scan_max,
  });
  const endedCovering = ended.find((consent) => covers(consent, request));
  if (endedCovering !== undefined)
    return endedCovering.revokedAt !== null ? "consent-revoked" : "consent-expired";
  if (request.purpose === "ETREAT") {
    if (query.hasActiveEmergency) return "emergency-scope-excluded";
    if (store.latestEmergency(request.patient, request.provider) !== null) return "emergency-expired";
  }
  const current = live.filter((consent) => consent.notBefore <= time);
  if (current.some((consent) => scopeCovers(consent, request))) return "purpose-not-granted";
  return current.length > 0 ? "category-not-granted" : "no-consent";
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

function ok(events: LedgerEvent[]): TxOutcome {
  return { result: { status: "ok", code: "ok" }, events };
}

function rejected(code: ReasonCode): TxOutcome {
  return { result: { status: "rejected", code }, events: [] };
}

function denied(code: ReasonCode): AccessVerdict {
  return { decision: "denied", code, cites: null, flagged: true };
}

function uint64(value: number): Uint8Array {
  invariant(Number.isSafeInteger(value) && value >= 0, "a height is an unsigned safe integer");
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, Math.floor(value / 2 ** 32));
  view.setUint32(4, value >>> 0);
  return out;
}
