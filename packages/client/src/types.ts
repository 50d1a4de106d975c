/**
 * The shapes of the API's answers (docs/api.md; packages/node/src/api/schemas.ts is the source of
 * truth). Bytes are lowercase hex strings as the API sends them, except where the client decodes them
 * for the caller (record content).
 */
import type {
  AccessDecision,
  BlockHeaderJson,
  Category,
  Did,
  MerkleProofJson,
  Purpose,
  SignedTxJson,
  TxResultJson,
} from "@medledger/protocol";

/** GET /health. */
export interface Health {
  status: "ok";
}

/** GET /ready (200 or 503 with the same body). */
export interface Readiness {
  ready: boolean;
  leader: Did | null;
  commitIndex: number;
  appliedIndex: number;
  lagEntriesMax: number;
}

/** GET /status. */
export interface NodeStatus {
  node: Did;
  chain: string;
  role: string;
  term: number;
  leader: Did | null;
  height: number;
  commitIndex: number;
  appliedIndex: number;
  blockHash: string;
  appHash: string;
  mempoolSize: number;
  member: Did | null;
  peers: { connected: number; ids: string[] };
  members: { did: Did; nodes: Did[] }[];
  voters: Did[];
  learners: Did[];
  halted: boolean;
  /** True while the node fetches blocks an installed snapshot skipped. */
  backfilling: boolean;
}

/** POST /txs (200 committed, 202 pending). */
export interface TxStatus {
  id: string;
  status: "pending" | "committed" | "unknown";
  height?: number;
  txIndex?: number;
  result?: TxResultJson;
}

/** One answer of POST /txs/batch: pending, committed (with its result) or refused (with the error). */
export interface BatchItem {
  id?: string;
  status: "pending" | "committed" | "refused";
  height?: number;
  txIndex?: number;
  result?: TxResultJson;
  error?: { code: string; message: string; reason?: string; field?: string };
}

/** GET /txs/{id}: committed ones carry the transaction, its leaf, the proof and the block header. */
export interface TxDetail extends TxStatus {
  tx?: SignedTxJson;
  /** Hex of the signed encoding: the Merkle leaf. */
  encoded?: string;
  proof?: MerkleProofJson;
  blockHash?: string;
  header?: BlockHeaderJson;
}

/** A committed transaction's detail, as verifyInclusion accepts it. */
export type CommittedTxDetail = TxDetail & {
  status: "committed";
  height: number;
  txIndex: number;
  result: TxResultJson;
  tx: SignedTxJson;
  encoded: string;
  proof: MerkleProofJson;
  blockHash: string;
  header: BlockHeaderJson;
};

/** GET /blocks/{height}. */
export interface BlockDetail {
  height: number;
  hash: string;
  header: BlockHeaderJson;
  sig: string;
  txs: SignedTxJson[];
  results: TxResultJson[];
  ids: string[];
}

/** One entry of GET /blocks. */
export interface BlockSummary {
  height: number;
  hash: string;
  time: number;
  txCount: number;
  header: BlockHeaderJson;
}

/** GET /blocks. */
export interface BlockPage {
  blocks: BlockSummary[];
  /** The `from` of the next page, or null at the tip. */
  next: number | null;
}

/** A page of a patient's consents or audit trail. */
export interface Page<T> {
  items: T[];
  /** The `after` of the next page, or null on the last. */
  next: string | null;
}

/** A consent (every state). */
export interface Consent {
  id: string;
  patient: Did;
  grantee: Did;
  categories: Category[];
  records: string[];
  purposes: Purpose[];
  notBefore: number;
  expires: number;
  revokedAt: number | null;
  height: number;
  txIndex: number;
}

/** An entry of the audit trail: one access.log and its decision. */
export interface AuditEntry {
  tx: string;
  height: number;
  txIndex: number;
  time: number;
  provider: Did;
  patient: Did;
  category: Category;
  record: string | null;
  purpose: Purpose;
  decision: AccessDecision;
  code: string;
  cites: string | null;
  flagged: boolean;
}

/** GET /access/check. */
export interface AccessCheck {
  decision: AccessDecision;
  code: string;
  cites: string | null;
  flagged: boolean;
  time: number;
}

/** POST /records: 201 committed or 202 pending. */
export type StoredRecord =
  | {
      id: string;
      status: "committed";
      record: string;
      height: number;
      txIndex: number;
      result: TxResultJson;
    }
  | { id: string; status: "pending"; record: string };

/** GET /records/{id}, with the content decoded (and checked against contentHash). */
export interface DisclosedRecord {
  record: string;
  patient: Did;
  category: Category;
  format: string;
  contentHash: string;
  content: Uint8Array;
  decision: "permitted" | "emergency";
  code: string;
  cites: string | null;
  /** The id of the access.log the disclosure was logged by. */
  accessLog: string;
  height: number;
}

/** `event: block` of GET /events. */
export interface BlockEvent {
  height: number;
  hash: string;
  time: number;
  txCount: number;
}

/** `event: break-glass` of GET /events?patient=. */
export interface BreakGlassEvent {
  patient: Did;
  provider: Did;
  /** The emergency.declare id. */
  emergency: string;
  reason: string;
  until: number;
  height: number;
}

/** `event: access` and `event: access-denied` of GET /events?patient=. */
export interface AccessEvent {
  patient: Did;
  provider: Did;
  tx: string;
  category: Category;
  purpose: Purpose;
  record: string | null;
  decision: AccessDecision;
  code: string;
  cites: string | null;
  flagged: boolean;
  height: number;
}

/** An event of the stream, by type; `id` is the SSE id (the block height). */
export type LedgerStreamEvent =
  | { type: "block"; id: string; data: BlockEvent }
  | { type: "break-glass"; id: string; data: BreakGlassEvent }
  | { type: "access"; id: string; data: AccessEvent }
  | { type: "access-denied"; id: string; data: AccessEvent };
