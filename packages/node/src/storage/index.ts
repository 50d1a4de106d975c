/** The node's SQLite storage: the chain database, Raft storage, state store, blocks, state sync. */
export type {
  ApplyOutcome,
  BlockToStore,
  CommittedBlock,
  StoredBlock,
  StoredHeader,
  StoredTx,
} from "./blocks.js";
export { BlockStore } from "./blocks.js";
export type { ChainDbOptions, IntegrityReport } from "./db.js";
export { CHAIN_DB_APPLICATION_ID, ChainDb, openChainDb } from "./db.js";
export type { Migration } from "./migrations.js";
export { MIGRATIONS } from "./migrations.js";
export type { RaftPersist, SqliteRaftStorageOptions } from "./raft-storage.js";
export { SqliteRaftStorage } from "./raft-storage.js";
export { SqliteStateStore } from "./state-store.js";
export type { StateExport, StateExportOptions, StateImportOptions, Tip } from "./state-sync.js";
