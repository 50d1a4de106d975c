/** @medledger/protocol: identities, encoding, transactions, blocks, Merkle proofs and state rules. */
export * from "./block.js";
export * from "./bytes.js";
export * from "./did.js";
export * from "./encoding.js";
export * from "./errors.js";
export * from "./genesis.js";
export * from "./keys.js";
export * from "./kinds.js";
export * as limits from "./limits.js";
export * from "./merkle.js";
export * from "./request.js";
export * from "./rules.js";
export * from "./signer.js";
export * from "./state.js";
export * from "./tx.js";
export * from "./types.js";
export * from "./vocabulary.js";
