/**
 * The network's options with their defaults, validated once when the network is created.
 */

import { type Multiaddr, multiaddr as parseMultiaddr } from "@multiformats/multiaddr";
import { NodeError } from "../errors.js";
import { addresses_max, chain_id_bytes_max, ed25519_key_bytes } from "../limits.js";
import type { Logger } from "../logger.js";
import { silentLogger } from "../logger.js";
import type { NetworkChannel, NetworkMetrics } from "./metrics.js";
import { noopNetworkMetrics } from "./metrics.js";

/** Fault hooks for the chaos suite: return true to drop the frame or message. Unset in production. */
export interface NetworkFaults {
  /** Called before a frame or message to `peer` leaves this node. */
  dropOutbound?(peer: string, channel: NetworkChannel): boolean;
  /** Called when a frame or message from `peer` reaches this node, before its handler. */
  dropInbound?(peer: string, channel: NetworkChannel): boolean;
}

/** What `createNetwork` needs. */
export interface NetworkOptions {
  /** The node's 32-byte ed25519 secret seed; the libp2p identity is derived from it. */
  readonly seed: Uint8Array;
  /** The chain id ([a-z0-9-], 1 to 64 bytes); it names the protocols and the gossip topic. */
  readonly chainId: string;
  /** True when `publicKey` (32 bytes, ed25519) is a current member's node; consulted for every connection. */
  readonly isAllowedPeer: (publicKey: Uint8Array) => boolean;
  /** Multiaddrs to listen on (default /ip4/127.0.0.1/tcp/0). */
  readonly listen?: readonly string[];
  /** Multiaddrs of peers to keep connected, each with its /p2p/ peer id. */
  readonly peers?: readonly string[];
  /** The logger (default silent). */
  readonly logger?: Logger;
  /** Metrics hooks (default no-op). */
  readonly metrics?: NetworkMetrics;
  /** Fault hooks for the chaos suite (default none). */
  readonly faults?: NetworkFaults;
}

/** The options after validation, with every default filled in. */
export interface ResolvedNetworkOptions {
  readonly seed: Uint8Array;
  readonly chainId: string;
  readonly isAllowedPeer: (publicKey: Uint8Array) => boolean;
  readonly listen: readonly Multiaddr[];
  readonly peers: readonly Multiaddr[];
  readonly logger: Logger;
  readonly metrics: NetworkMetrics;
  readonly faults: NetworkFaults | undefined;
}

const chain_id_pattern = /^[a-z0-9-]+$/;

/** Validates `options` and fills in defaults; throws OPTIONS_INVALID. */
export function resolveNetworkOptions(options: NetworkOptions): ResolvedNetworkOptions {
  checkOption(options.seed instanceof Uint8Array, "seed must be a Uint8Array");
  checkOption(options.seed.byteLength === ed25519_key_bytes, `seed must be ${ed25519_key_bytes} bytes`);
  checkChainId(options.chainId);
  checkOption(typeof options.isAllowedPeer === "function", "isAllowedPeer must be a function");
  const listen = parseAddresses(options.listen ?? ["/ip4/127.0.0.1/tcp/0"], "listen", false);
  const peers = parseAddresses(options.peers ?? [], "peers", true);
  return {
    seed: options.seed,
    chainId: options.chainId,
    isAllowedPeer: options.isAllowedPeer,
    listen,
    peers,
    logger: options.logger ?? silentLogger,
    metrics: options.metrics ?? noopNetworkMetrics,
    faults: options.faults,
  };
}

function checkChainId(chainId: string): void {
  checkOption(typeof chainId === "string", "chainId must be a string");
  checkOption(chainId.length >= 1 && chainId.length <= chain_id_bytes_max, "chainId length out of range");
  checkOption(chain_id_pattern.test(chainId), "chainId must match [a-z0-9-]+");
}

function parseAddresses(addresses: readonly string[], what: string, needPeerId: boolean): Multiaddr[] {
  checkOption(Array.isArray(addresses), `${what} must be an array`);
  checkOption(addresses.length <= addresses_max, `${what} has more than ${addresses_max} addresses`);
  return addresses.map((address) => parseAddress(address, what, needPeerId));
}

function parseAddress(address: string, what: string, needPeerId: boolean): Multiaddr {
  let parsed: Multiaddr;
  try {
    parsed = parseMultiaddr(address);
  } catch (error) {
    throw new NodeError("OPTIONS_INVALID", `${what}: not a multiaddr: ${address}`, { cause: error });
  }
  if (needPeerId)
    checkOption(
      parsed.getComponents().some((c) => c.name === "p2p"),
      `${what}: no /p2p/ id`,
    );
  return parsed;
}

function checkOption(condition: boolean, message: string): asserts condition {
  if (!condition) throw new NodeError("OPTIONS_INVALID", message);
}
