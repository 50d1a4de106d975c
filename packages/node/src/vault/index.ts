/** The vault: off-chain PHI, sealed per record and erasable beyond recovery from the database files. */
export * from "./crypto.js";
export * from "./master-key.js";
export * from "./migrations.js";
export * from "./types.js";
export * from "./vault.js";
