// Types for verify.mjs (plain JavaScript), for the vitest file.

export interface CheckResult {
  vector: string;
  ok: boolean;
  detail: string;
}
export type Check = (json: unknown) => CheckResult[];

export class ProtocolError extends Error {
  code: string;
}

export function toHex(bytes: Uint8Array): string;
export function fromHex(hex: string, len?: number, field?: string): Uint8Array;
export function sha256(...parts: Uint8Array[]): Uint8Array;
export function encodeCbor(value: unknown): Uint8Array;
export function decodeCanonical(bytes: Uint8Array, maxSize?: number): unknown;
export function decodeDid(did: unknown, field?: string): Uint8Array;
export function didFromPublicKey(pub: Uint8Array): string;
export function verifyEd25519(A: Uint8Array, M: Uint8Array, sig: Uint8Array): { ok: boolean; rule: string };
export function merkleRoot(leaves: Uint8Array[]): Uint8Array;
export function merklePath(m: number, leaves: Uint8Array[]): Uint8Array[];
export function readProofJson(json: unknown): { index: number; size: number; path: Uint8Array[] };
export function verifyInclusion(
  leaf: Uint8Array,
  root: Uint8Array,
  proof: { index: number; size: number; path: Uint8Array[] },
): void;
export interface SignedTx {
  tx: { kind: string; chain: string; signer: string; [k: string]: unknown };
  sigs: { signer: string; key: string; sig: Uint8Array }[];
  unsignedCbor: Uint8Array;
  id: Uint8Array;
  payload: Uint8Array;
  signedCbor: Uint8Array;
  digest?: Uint8Array;
}
export function runTxStages(
  bytes: Uint8Array,
  chain: string,
): { stage: "decode" | "verify" | "chain" | "ok"; error?: string; message?: string; stx?: SignedTx };

export interface DecodedBlock {
  header: Record<string, unknown>;
  headerCbor: Uint8Array;
  sig: Uint8Array;
  txs: SignedTx[];
  results: unknown[];
  resultCbors: Uint8Array[];
}
export function decodeBlock(bytes: Uint8Array): DecodedBlock;
export function verifyBlockStructure(
  block: DecodedBlock,
  prev: { header: Record<string, unknown> } | { genesis: { chain: string; time: number } },
): void;

export const checkKeys: Check;
export const checkSignatures: Check;
export const checkTransactions: Check;
export const checkMerkle: Check;
export const checkBlocks: Check;
export const checkScenario: Check;
export function checkChain(json: unknown, label?: string): CheckResult[];

export interface Result {
  status: string;
  code: string;
  decision?: string;
  cites?: Uint8Array;
  flagged?: boolean;
}
export class Ledger {
  static genesis(g: unknown): Ledger;
  appHash: Uint8Array;
  applyBlock(
    header: Record<string, unknown>,
    txs: SignedTx[],
  ): {
    results: Result[];
    log: Uint8Array[];
    events: unknown[];
    appHash: Uint8Array;
    prevAppHash: Uint8Array;
  };
}
