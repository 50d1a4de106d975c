/**
 * The vault database's schema, as numbered migrations (the chain database's rules: dense numbers from
 * 1, never rewritten once released, each recorded with the sha256 of its SQL).
 *
 * `records` holds only ciphertext: the wrapped data key, the GCM IV, the ciphertext with its tag, and
 * the metadata the tag authenticates. Erasure deletes the row; `tombstones` keeps the record id and the
 * time only, so that an erased record answers "erased" (410) and can never be put again.
 */
import type { Migration } from "../storage/migrations.js";

const VAULT_V1 = `
CREATE TABLE vault_meta (
  id INTEGER PRIMARY KEY CHECK (id = 0),
  key_check BLOB NOT NULL CHECK (length(key_check) = 16),
  created_at_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE records (
  record TEXT PRIMARY KEY,
  patient TEXT NOT NULL,
  category TEXT NOT NULL,
  format TEXT NOT NULL,
  content_hash BLOB NOT NULL CHECK (length(content_hash) = 32),
  version INTEGER NOT NULL,
  wrapped_key BLOB NOT NULL,
  iv BLOB NOT NULL,
  ciphertext BLOB NOT NULL,
  stored_at_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE tombstones (
  record TEXT PRIMARY KEY,
  erased_at_ms INTEGER NOT NULL
) STRICT;
`;

/** Every vault migration, in order. */
export const VAULT_MIGRATIONS: readonly Migration[] = [[1, VAULT_V1]];
