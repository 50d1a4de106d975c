/**
 * The chain database's schema, as numbered migrations. Migration N is never rewritten once released:
 * a change is a new migration N+1. The `migrations` table records each applied number with the
 * sha256 of its SQL, so that a rewritten migration is caught when a database is opened.
 *
 * Tables are STRICT (SQLite checks every column's type); hashes are BLOBs, times and heights INTEGERs,
 * lists of DIDs, categories, purposes and record ids are JSON arrays in TEXT columns. Every state table
 * has an explicit `seq` rowid (`ref` for atoms): the insertion order (a tie-break among equal
 * positions) and the cursor of state export; it survives VACUUM and is carried by export and import.
 * `seen` is the exception: keyed by the transaction id (its export cursor), it has no order of its own.
 */

/** One migration: its number (dense from 1) and the SQL that moves the schema from N-1 to N. */
export type Migration = readonly [number: number, sql: string];

const RAFT = `
CREATE TABLE raft_entries (
  idx INTEGER PRIMARY KEY,
  term INTEGER NOT NULL CHECK (term >= 0),
  type INTEGER NOT NULL CHECK (type IN (0, 1)),
  data BLOB NOT NULL
) STRICT;
CREATE TABLE raft_state (
  id INTEGER PRIMARY KEY CHECK (id = 0),
  term INTEGER NOT NULL,
  vote TEXT NOT NULL,
  [commit] INTEGER NOT NULL
) STRICT;
CREATE TABLE raft_snapshot (
  id INTEGER PRIMARY KEY CHECK (id = 0),
  idx INTEGER NOT NULL,
  term INTEGER NOT NULL,
  conf_state TEXT NOT NULL CHECK (json_valid(conf_state)),
  data BLOB NOT NULL
) STRICT;
`;

const CHAIN = `
CREATE TABLE blocks (
  height INTEGER PRIMARY KEY CHECK (height >= 1),
  hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
  header BLOB NOT NULL,
  sig BLOB NOT NULL,
  time INTEGER NOT NULL,
  tx_count INTEGER NOT NULL,
  raft_index INTEGER NOT NULL,
  encoded BLOB NOT NULL
) STRICT;
CREATE TABLE txs (
  id BLOB PRIMARY KEY CHECK (length(id) = 32),
  height INTEGER NOT NULL REFERENCES blocks (height),
  tx_index INTEGER NOT NULL,
  signed BLOB NOT NULL,
  result BLOB NOT NULL
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX txs_by_position ON txs (height, tx_index);
CREATE TABLE applied (
  id INTEGER PRIMARY KEY CHECK (id = 0),
  raft_index INTEGER NOT NULL,
  height INTEGER NOT NULL,
  block_hash BLOB NOT NULL,
  app_hash BLOB NOT NULL
) STRICT;
`;

const STATE = `
CREATE TABLE chain (
  id INTEGER PRIMARY KEY CHECK (id = 0),
  chain TEXT NOT NULL,
  genesis_time INTEGER NOT NULL,
  height INTEGER NOT NULL,
  time INTEGER NOT NULL,
  app_hash BLOB NOT NULL
) STRICT;
CREATE TABLE identities (
  seq INTEGER PRIMARY KEY,
  did TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('member', 'node', 'provider', 'patient')),
  key TEXT NOT NULL,
  member TEXT,
  status TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
  license_hash BLOB
) STRICT;
CREATE TABLE key_owners (
  seq INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,
  owner TEXT NOT NULL
) STRICT;
CREATE TABLE members (
  seq INTEGER PRIMARY KEY,
  did TEXT NOT NULL UNIQUE,
  nodes TEXT NOT NULL CHECK (json_type(nodes) = 'array'),
  admitted_height INTEGER NOT NULL
) STRICT;
CREATE TABLE proposals (
  seq INTEGER PRIMARY KEY,
  id BLOB NOT NULL UNIQUE,
  proposer TEXT NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('add', 'remove', 'update')),
  member TEXT NOT NULL,
  nodes TEXT NOT NULL CHECK (json_type(nodes) = 'array'),
  deadline INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('open', 'passed')),
  approvals INTEGER NOT NULL,
  rejections INTEGER NOT NULL,
  height INTEGER NOT NULL,
  tx_index INTEGER NOT NULL
) STRICT;
CREATE TABLE votes (
  seq INTEGER PRIMARY KEY,
  proposal BLOB NOT NULL,
  voter TEXT NOT NULL,
  approve INTEGER NOT NULL CHECK (approve IN (0, 1)),
  height INTEGER NOT NULL,
  UNIQUE (proposal, voter)
) STRICT;
CREATE TABLE patients (
  seq INTEGER PRIMARY KEY,
  did TEXT NOT NULL UNIQUE,
  guardians TEXT NOT NULL CHECK (json_type(guardians) = 'array'),
  threshold INTEGER NOT NULL,
  emergency_scope TEXT CHECK (emergency_scope IS NULL OR json_type(emergency_scope) = 'array')
) STRICT;
CREATE TABLE records (
  seq INTEGER PRIMARY KEY,
  record TEXT NOT NULL UNIQUE,
  patient TEXT NOT NULL,
  holder TEXT NOT NULL,
  provider TEXT NOT NULL,
  category TEXT NOT NULL,
  format TEXT NOT NULL,
  content_hash BLOB NOT NULL,
  erased INTEGER NOT NULL CHECK (erased IN (0, 1)),
  erased_at INTEGER,
  anchor_tx BLOB NOT NULL,
  height INTEGER NOT NULL,
  tx_index INTEGER NOT NULL
) STRICT;
CREATE INDEX records_by_patient ON records (patient, height, tx_index);
CREATE TABLE consents (
  seq INTEGER PRIMARY KEY,
  id BLOB NOT NULL UNIQUE,
  patient TEXT NOT NULL,
  grantee TEXT NOT NULL,
  categories TEXT NOT NULL CHECK (json_type(categories) = 'array'),
  records TEXT NOT NULL CHECK (json_type(records) = 'array'),
  purposes TEXT NOT NULL CHECK (json_type(purposes) = 'array'),
  not_before INTEGER NOT NULL,
  expires INTEGER NOT NULL,
  revoked_at INTEGER,
  height INTEGER NOT NULL,
  tx_index INTEGER NOT NULL
) STRICT;
CREATE INDEX consents_by_patient ON consents (patient, height, tx_index);
CREATE INDEX consents_by_grantee ON consents (patient, grantee, height, tx_index);
CREATE TABLE emergencies (
  seq INTEGER PRIMARY KEY,
  id BLOB NOT NULL UNIQUE,
  provider TEXT NOT NULL,
  patient TEXT NOT NULL,
  reason TEXT NOT NULL,
  from_time INTEGER NOT NULL,
  until INTEGER NOT NULL,
  height INTEGER NOT NULL,
  tx_index INTEGER NOT NULL
) STRICT;
CREATE INDEX emergencies_by_patient ON emergencies (patient, height, tx_index);
CREATE INDEX emergencies_by_provider ON emergencies (patient, provider, height, tx_index);
CREATE TABLE audit (
  seq INTEGER PRIMARY KEY,
  tx BLOB NOT NULL,
  height INTEGER NOT NULL,
  tx_index INTEGER NOT NULL,
  time INTEGER NOT NULL,
  provider TEXT NOT NULL,
  patient TEXT NOT NULL,
  category TEXT NOT NULL,
  record TEXT,
  purpose TEXT NOT NULL,
  decision TEXT NOT NULL CHECK (decision IN ('permitted', 'emergency', 'denied')),
  code TEXT NOT NULL,
  cites BLOB,
  flagged INTEGER NOT NULL CHECK (flagged IN (0, 1))
) STRICT;
CREATE INDEX audit_by_patient ON audit (patient, height, tx_index);
CREATE TABLE seen (
  seq INTEGER PRIMARY KEY,
  id BLOB NOT NULL UNIQUE,
  expires INTEGER NOT NULL
) STRICT;
CREATE INDEX seen_by_expires ON seen (expires);
`;

/**
 * Migration 4: one transaction id may sit in several blocks. An inauthentic copy (signed with a key
 * that is not the signer's current one) is rejected without consuming its id, so the genuine copy can
 * follow in a later block; a faulty leader may also replay an id (rejected, but recorded). Rows are
 * keyed by position; the id is an index.
 */
const TXS_BY_POSITION = `
CREATE TABLE txs_v4 (
  height INTEGER NOT NULL REFERENCES blocks (height),
  tx_index INTEGER NOT NULL,
  id BLOB NOT NULL CHECK (length(id) = 32),
  signed BLOB NOT NULL,
  result BLOB NOT NULL,
  PRIMARY KEY (height, tx_index)
) STRICT, WITHOUT ROWID;
INSERT INTO txs_v4 (height, tx_index, id, signed, result)
  SELECT height, tx_index, id, signed, result FROM txs;
DROP TABLE txs;
ALTER TABLE txs_v4 RENAME TO txs;
CREATE INDEX txs_by_id ON txs (id, height, tx_index);
`;

/**
 * Migration 5: each block's bytes are stored once. `blocks.encoded` holds the canonical encoding
 * compressed as `codec` says (0: as is, the rows written before; 1: Brotli). A transaction row only
 * locates its transaction (id, height, index): the signed transaction and its result are read from the
 * block. The Raft entry of an applied block keeps no bytes of its own (data NULL): they are the body of
 * the block stored with its Raft index (blocks_by_raft_index). Entries whose bytes equal their stored
 * block are released here.
 */
const BLOCK_BODIES_ONCE = `
ALTER TABLE blocks ADD COLUMN codec INTEGER NOT NULL DEFAULT 0 CHECK (codec IN (0, 1));
CREATE UNIQUE INDEX blocks_by_raft_index ON blocks (raft_index);
CREATE TABLE txs_v5 (
  id BLOB NOT NULL CHECK (length(id) = 32),
  height INTEGER NOT NULL REFERENCES blocks (height),
  tx_index INTEGER NOT NULL,
  PRIMARY KEY (id, height, tx_index)
) STRICT, WITHOUT ROWID;
INSERT INTO txs_v5 (id, height, tx_index) SELECT id, height, tx_index FROM txs;
DROP TABLE txs;
ALTER TABLE txs_v5 RENAME TO txs;
CREATE TABLE raft_entries_v5 (
  idx INTEGER PRIMARY KEY,
  term INTEGER NOT NULL CHECK (term >= 0),
  type INTEGER NOT NULL CHECK (type IN (0, 1)),
  data BLOB CHECK (data IS NOT NULL OR type = 0)
) STRICT;
INSERT INTO raft_entries_v5 (idx, term, type, data)
  SELECT e.idx, e.term, e.type, CASE WHEN e.type = 0 AND EXISTS (
    SELECT 1 FROM blocks b WHERE b.raft_index = e.idx AND b.codec = 0 AND b.encoded = e.data
  ) THEN NULL ELSE e.data END FROM raft_entries e;
DROP TABLE raft_entries;
ALTER TABLE raft_entries_v5 RENAME TO raft_entries;
`;

/**
 * Migration 6: smaller state rows. `atoms` interns the values audit rows repeat (DIDs, categories,
 * purposes, decisions, codes, record ids, cited ids): an audit row holds their integer references.
 * `seen` is keyed by the transaction id itself (WITHOUT ROWID: no rowid and no second index on the
 * id). The rules define the state and its app hash; this is only how SQLite holds it.
 */
const COMPACT_STATE = `
CREATE TABLE atoms (
  ref INTEGER PRIMARY KEY,
  value ANY NOT NULL UNIQUE CHECK (typeof(value) IN ('text', 'blob'))
) STRICT;
INSERT INTO atoms (value)
  SELECT provider FROM audit UNION SELECT patient FROM audit UNION SELECT category FROM audit
  UNION SELECT record FROM audit WHERE record IS NOT NULL UNION SELECT purpose FROM audit
  UNION SELECT decision FROM audit UNION SELECT code FROM audit
  UNION SELECT cites FROM audit WHERE cites IS NOT NULL;
CREATE TABLE audit_v6 (
  seq INTEGER PRIMARY KEY,
  tx BLOB NOT NULL,
  height INTEGER NOT NULL,
  tx_index INTEGER NOT NULL,
  time INTEGER NOT NULL,
  provider INTEGER NOT NULL REFERENCES atoms (ref),
  patient INTEGER NOT NULL REFERENCES atoms (ref),
  category INTEGER NOT NULL REFERENCES atoms (ref),
  record INTEGER REFERENCES atoms (ref),
  purpose INTEGER NOT NULL REFERENCES atoms (ref),
  decision INTEGER NOT NULL REFERENCES atoms (ref),
  code INTEGER NOT NULL REFERENCES atoms (ref),
  cites INTEGER REFERENCES atoms (ref),
  flagged INTEGER NOT NULL CHECK (flagged IN (0, 1))
) STRICT;
INSERT INTO audit_v6 (seq, tx, height, tx_index, time, provider, patient, category, record, purpose,
  decision, code, cites, flagged)
  SELECT a.seq, a.tx, a.height, a.tx_index, a.time,
    (SELECT ref FROM atoms WHERE value = a.provider), (SELECT ref FROM atoms WHERE value = a.patient),
    (SELECT ref FROM atoms WHERE value = a.category), (SELECT ref FROM atoms WHERE value = a.record),
    (SELECT ref FROM atoms WHERE value = a.purpose), (SELECT ref FROM atoms WHERE value = a.decision),
    (SELECT ref FROM atoms WHERE value = a.code), (SELECT ref FROM atoms WHERE value = a.cites), a.flagged
  FROM audit a;
DROP TABLE audit;
ALTER TABLE audit_v6 RENAME TO audit;
CREATE INDEX audit_by_patient ON audit (patient, height, tx_index);
CREATE TABLE seen_v6 (
  id BLOB PRIMARY KEY CHECK (length(id) = 32),
  expires INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO seen_v6 (id, expires) SELECT id, expires FROM seen;
DROP TABLE seen;
ALTER TABLE seen_v6 RENAME TO seen;
CREATE INDEX seen_by_expires ON seen (expires);
`;

/**
 * Every migration, in order. Append only: never edit or renumber a released entry (the database
 * records each one's hash and refuses to open when an applied migration's SQL changed).
 */
export const MIGRATIONS: readonly Migration[] = [
  [1, RAFT],
  [2, CHAIN],
  [3, STATE],
  [4, TXS_BY_POSITION],
  [5, BLOCK_BODIES_ONCE],
  [6, COMPACT_STATE],
];
