/** @medledger/node: the node daemon as a library. So far: the libp2p network layer, logging, limits. */
import "./polyfills.js";

export * from "./errors.js";
export * as limits from "./limits.js";
export * from "./logger.js";
export * from "./network/index.js";
export * from "./storage/index.js";
