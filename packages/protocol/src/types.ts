/**
 * The protocol's data model: transaction kinds and bodies, the envelope, blocks and results.
 * Byte strings are Uint8Array; times are unsigned integer milliseconds since the Unix epoch (UTC);
 * identities are did:key strings. The byte-level rules are in docs/protocol.md.
 */
import type { Category, Purpose } from "./vocabulary.js";

/** A did:key string naming an ed25519 public key (`did:key:z6Mk...`). */
export type Did = string;
/** A 32-byte sha256 digest. */
export type Hash = Uint8Array;
/** A record id chosen by the holder ([A-Za-z0-9._:-], 1 to record_id_bytes_max bytes). */
export type RecordId = string;

/** Every transaction kind, in the order docs/protocol.md lists them. */
export const TX_KINDS = [
  "member.propose",
  "member.vote",
  "provider.register",
  "provider.suspend",
  "patient.register",
  "patient.set-guardians",
  "patient.set-emergency-scope",
  "key.rotate",
  "key.recover",
  "record.anchor",
  "consent.grant",
  "consent.revoke",
  "access.log",
  "emergency.declare",
  "record.erase",
] as const;

/** A transaction kind. */
export type TxKind = (typeof TX_KINDS)[number];

/** `member.propose`: a member proposes to add, remove or update a member and its node keys. */
export interface MemberProposeBody {
  action: "add" | "remove" | "update";
  member: Did;
  /** The member's node keys after the change (empty for "remove"). */
  nodes: Did[];
  /** Time after which the proposal can no longer pass. */
  deadline: number;
}

/** `member.vote`: a member approves or rejects an open proposal (named by its transaction id). */
export interface MemberVoteBody {
  proposal: Hash;
  approve: boolean;
}

/** `provider.register`: a member registers one of its clinicians. */
export interface ProviderRegisterBody {
  provider: Did;
  /** sha256 of the licence document the member checked. */
  licenseHash: Hash;
}

/** `provider.suspend`: the provider's member suspends it. */
export interface ProviderSuspendBody {
  provider: Did;
  reason: string;
}

/** `patient.register`: a patient registers itself (the signer is the patient). */
export type PatientRegisterBody = Record<string, never>;

/** `patient.set-guardians`: M-of-N guardians who can recover the patient's key. */
export interface PatientSetGuardiansBody {
  guardians: Did[];
  threshold: number;
}

/** `patient.set-emergency-scope`: the categories break-glass may reach (sensitive ones only if listed). */
export interface PatientSetEmergencyScopeBody {
  categories: Category[];
}

/** `key.rotate`: the identity's owner moves it to a new key. */
export interface KeyRotateBody {
  newKey: Did;
}

/** `key.recover`: a threshold of the patient's guardians move the patient to a new key. */
export interface KeyRecoverBody {
  patient: Did;
  newKey: Did;
}

/** `record.anchor`: a provider declares that its hospital holds a record of a patient. */
export interface RecordAnchorBody {
  record: RecordId;
  patient: Did;
  category: Category;
  /** e.g. a FHIR resource type such as "Observation". */
  format: string;
  /** sha256 of the record's plaintext. */
  contentHash: Hash;
}

/** `consent.grant`: the patient lets a provider or a whole member see categories and/or records. */
export interface ConsentGrantBody {
  grantee: Did;
  categories: Category[];
  records: RecordId[];
  purposes: Purpose[];
  notBefore: number;
  expires: number;
}

/** `consent.revoke`: the patient withdraws a consent (named by its grant's transaction id). */
export interface ConsentRevokeBody {
  consent: Hash;
}

/** `access.log`: a provider logs an access before any disclosure. */
export interface AccessLogBody {
  patient: Did;
  category: Category;
  purpose: Purpose;
  /** The record to be read, if the access is to one record. */
  record?: RecordId;
}

/** `emergency.declare`: break-glass by a provider, with a reason, for a limited time. */
export interface EmergencyDeclareBody {
  patient: Did;
  reason: string;
  /** How long the break-glass lasts; absent (never null): emergency_duration_default_ms (24 h). */
  durationMs?: number;
}

/** `record.erase`: the patient has a record erased (right to be forgotten). */
export interface RecordEraseBody {
  record: RecordId;
}

/** The body type of each kind. */
export interface TxBodies {
  "member.propose": MemberProposeBody;
  "member.vote": MemberVoteBody;
  "provider.register": ProviderRegisterBody;
  "provider.suspend": ProviderSuspendBody;
  "patient.register": PatientRegisterBody;
  "patient.set-guardians": PatientSetGuardiansBody;
  "patient.set-emergency-scope": PatientSetEmergencyScopeBody;
  "key.rotate": KeyRotateBody;
  "key.recover": KeyRecoverBody;
  "record.anchor": RecordAnchorBody;
  "consent.grant": ConsentGrantBody;
  "consent.revoke": ConsentRevokeBody;
  "access.log": AccessLogBody;
  "emergency.declare": EmergencyDeclareBody;
  "record.erase": RecordEraseBody;
}

/**
 * The signed part of a transaction. Its canonical encoding is what is hashed (the id) and signed.
 * Replay protection: `expires` bounds the window in which the id is remembered; `nonce` lets one
 * signer send many otherwise identical transactions at once.
 */
export interface UnsignedTx<K extends TxKind = TxKind> {
  /** Protocol version of the envelope (1). */
  v: 1;
  chain: string;
  kind: K;
  /** The identity acting (for `key.recover`, the first co-signing guardian). */
  signer: Did;
  nonce: number;
  /** The transaction is valid only in blocks whose time is at most this. */
  expires: number;
  body: TxBodies[K];
}

/** One signature: by identity `signer`, made with key `key` (a did:key), over the signing payload. */
export interface TxSignature {
  signer: Did;
  key: Did;
  sig: Uint8Array;
}

/** A signed transaction. `sigs[0].signer` is the envelope's signer. */
export interface SignedTx<K extends TxKind = TxKind> {
  tx: UnsignedTx<K>;
  sigs: TxSignature[];
}

/** The header of a block; its canonical encoding is hashed (the block hash) and signed by the proposer. */
export interface BlockHeader {
  v: 1;
  chain: string;
  height: number;
  /** Hash of the previous block's header (32 zero bytes for height 1). */
  prev: Hash;
  time: number;
  /** The proposing node's key. */
  proposer: Did;
  /** Merkle root over the signed transactions' encodings. */
  txRoot: Hash;
  /** Merkle root over the results' encodings. */
  resultRoot: Hash;
  /** Chains the state transitions: see docs/protocol.md. */
  appHash: Hash;
  raftTerm: number;
  raftIndex: number;
}

/** A block: header, the proposer's signature, the transactions and their results in order. */
export interface Block {
  header: BlockHeader;
  sig: Uint8Array;
  txs: SignedTx[];
  results: TxResult[];
}

/** The decision on an access attempt. */
export type AccessDecision = "permitted" | "emergency" | "denied";

/** The deterministic outcome of applying one transaction. */
export interface TxResult {
  /** "ok": the transaction took effect; "rejected": a rule failed, nothing changed but the log. */
  status: "ok" | "rejected";
  /** A stable reason code (e.g. "consent", "no-consent", "signer-not-provider"). */
  code: string;
  /** For access.log: the decision. */
  decision?: AccessDecision;
  /** For access.log: the consent or break-glass id it relies on. */
  cites?: Hash;
  /** True for a denied access and for every break-glass: flagged for review. */
  flagged?: boolean;
}
