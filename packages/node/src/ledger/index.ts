/** The replicated ledger: the consensus driver, mempool, wire codec, clocks and storage port. */
export * from "./clock.js";
export * from "./ledger-node.js";
export * from "./libp2p-transport.js";
export * as ledgerLimits from "./limits.js";
export * from "./mempool.js";
export * from "./sqlite-store.js";
export * from "./store.js";
export * from "./wire.js";
