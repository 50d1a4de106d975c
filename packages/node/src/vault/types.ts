/** The vault's public types: a record's metadata and the answer of a lookup. */
import type { Category } from "@medledger/protocol";

/** What the vault knows of a record besides its bytes (the fields of its `record.anchor`). */
export interface VaultRecordMeta {
  record: string;
  patient: string;
  category: Category;
  /** e.g. a FHIR resource type such as "Observation". */
  format: string;
  /** sha256 of the plaintext. */
  contentHash: Uint8Array;
}

/** A lookup's answer: the record and its plaintext, the time it was erased, or nothing. */
export type VaultLookup =
  | { state: "present"; meta: VaultRecordMeta; plaintext: Uint8Array }
  | { state: "erased"; erasedAt: number }
  | { state: "absent" };
