/**
 * The wire names of the network's channels, derived from the chain id so that two chains never mix.
 */

/** The protocol ids and gossip topic of one chain. */
export interface ChainProtocols {
  /** The direct (Raft) stream protocol. */
  readonly direct: string;
  /** The request/response (catch-up) stream protocol. */
  readonly request: string;
  /** The gossipsub topic for transaction batches. */
  readonly gossipTopic: string;
}

/** The protocol ids and gossip topic of chain `chainId` (already validated). */
export function chainProtocols(chainId: string): ChainProtocols {
  return {
    direct: `/medledger/${chainId}/raft/1`,
    request: `/medledger/${chainId}/sync/1`,
    gossipTopic: `/medledger/${chainId}/tx/1`,
  };
}
