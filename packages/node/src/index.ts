/** @medledger/node: the node daemon as a library: network, storage, the replicated ledger, assembly. */
import "./polyfills.js";
import { useNodeCrypto } from "@medledger/protocol/node";

// A daemon hashes with node:crypto (checked against the pure-JS sha256 as it is installed).
useNodeCrypto();

export * from "./api/index.js";
export * from "./backup.js";
export * from "./demo.js";
export { freePorts } from "./demo-ports.js";
export * from "./errors.js";
export * from "./ledger/index.js";
export * as limits from "./limits.js";
export * from "./logger.js";
export * from "./network/index.js";
export * from "./node.js";
export * from "./storage/index.js";
export * from "./vault/index.js";
export * from "./verify-chain.js";
