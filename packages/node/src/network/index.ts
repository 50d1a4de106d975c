/** The network layer: createNetwork and its types, identity helpers, metrics hooks, framing. */
export type { DirectHandler } from "./direct.js";
export { encodeFrame, encodeFrames, FrameDecoder } from "./framing.js";
export type { GossipHandler } from "./gossip.js";
export { peerIdFromPublicKey, publicKeyFromPeerId } from "./identity.js";
export type { DropReason, MisbehaviourReason, NetworkChannel, NetworkMetrics } from "./metrics.js";
export { noopNetworkMetrics } from "./metrics.js";
export { createNetwork, type Network, type PeerHandler } from "./network.js";
export type { NetworkFaults, NetworkOptions } from "./options.js";
export { createPromNetworkMetrics } from "./prom-metrics.js";
export { type ChainProtocols, chainProtocols } from "./protocols.js";
export type { RequestHandler, RequestOptions } from "./request.js";
