/**
 * The network service: libp2p 3 over TCP with Noise and Yamux, a membership connection gater, and three
 * channels (direct frames for Raft, request/response for catch-up, gossip for transaction batches).
 * `createNetwork` assembles it; `start` listens and dials; `stop` closes everything in a fixed order.
 */

import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import type { GossipSub } from "@libp2p/gossipsub";
import { identify } from "@libp2p/identify";
import type { Libp2p, PeerId, Stream } from "@libp2p/interface";
import { ping } from "@libp2p/ping";
import { tcp } from "@libp2p/tcp";
import { createLibp2p } from "libp2p";
import { NodeError } from "../errors.js";
import {
  connections_max,
  dial_timeout_ms,
  direct_inbound_streams_max,
  gossip_health_interval_ms,
  gossip_health_misses_max,
  request_inbound_streams_max,
  request_outbound_streams_max,
} from "../limits.js";
import type { Logger } from "../logger.js";
import { DirectChannel, type DirectHandler } from "./direct.js";
import { PeerGate } from "./gater.js";
import {
  GossipChannel,
  type GossipCheck,
  type GossipHandler,
  gossipHealthCheck,
  gossipService,
} from "./gossip.js";
import { parsePeerId, privateKeyFromSeed } from "./identity.js";
import type { MisbehaviourReason } from "./metrics.js";
import { type NetworkOptions, type ResolvedNetworkOptions, resolveNetworkOptions } from "./options.js";
import { type ChainProtocols, chainProtocols } from "./protocols.js";
import { Redialler } from "./redial.js";
import { RequestChannel, type RequestHandler, type RequestOptions } from "./request.js";

/** Receives the id of a peer that connected or disconnected. */
export type PeerHandler = (peer: string) => void;

/** The node's network: start/stop lifecycle, peers, and the three channels. */
export interface Network {
  /** This node's libp2p peer id (it names the node's ed25519 public key). */
  readonly peerId: string;
  /** Listens and starts dialling the configured peers. */
  start(): Promise<void>;
  /** Closes every stream and connection; the network cannot be started again. */
  stop(): Promise<void>;
  /** The listen multiaddrs, each ending in /p2p/<peerId>. */
  addresses(): string[];
  /** The connected peers that are allowed. */
  peers(): string[];
  /** Closes every connection to `peer`. */
  disconnect(peer: string): Promise<void>;
  /** Disconnects every connected peer the membership no longer allows (call after a membership change). */
  revalidatePeers(): Promise<void>;
  /** Sets the callback for a peer connecting (replacing any previous one). */
  onPeerConnected(handler: PeerHandler): void;
  /** Sets the callback for a peer disconnecting (replacing any previous one). */
  onPeerDisconnected(handler: PeerHandler): void;
  /** Queues a direct frame for `peer` without blocking; false when it was dropped. */
  send(peer: string, frame: Uint8Array): boolean;
  /** Sets the handler of direct frames (replacing any previous one). */
  onDirect(handler: DirectHandler): void;
  /** Sends a request to `peer` and resolves with its response. */
  request(peer: string, payload: Uint8Array, options: RequestOptions): Promise<Uint8Array>;
  /** Sets the handler of inbound requests (replacing any previous one). */
  onRequest(handler: RequestHandler): void;
  /** Publishes a gossip message (a batch of transactions) to every subscribed peer. */
  publish(payload: Uint8Array): Promise<void>;
  /** Sets the handler of gossip messages (replacing any previous one) and the check they must pass first. */
  onGossip(handler: GossipHandler, check?: GossipCheck): void;
  /** The peers subscribed to this chain's gossip topic. */
  gossipPeers(): string[];
}

type Services = { identify: unknown; ping: unknown; pubsub: GossipSub };
type NetworkState = "created" | "running" | "stopped";

/** Creates the network (not yet started); throws OPTIONS_INVALID on bad options. */
export async function createNetwork(options: NetworkOptions): Promise<Network> {
  const resolved = resolveNetworkOptions(options);
  const logger = resolved.logger.child({ module: "network" });
  const gate = new PeerGate({ isAllowedPeer: resolved.isAllowedPeer, logger });
  const protocols = chainProtocols(resolved.chainId);
  const libp2p = await createLibp2p<Services>({
    start: false,
    privateKey: await privateKeyFromSeed(resolved.seed),
    addresses: { listen: resolved.listen.map((address) => address.toString()) },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: gate.connectionGater(),
    connectionManager: { maxConnections: connections_max, dialTimeout: dial_timeout_ms },
    services: { identify: identify(), ping: ping(), pubsub: gossipService(protocols.gossipTopic) },
  });
  return new NetworkService({ libp2p, gate, protocols, options: resolved, logger });
}

interface NetworkParts {
  readonly libp2p: Libp2p<Services>;
  readonly gate: PeerGate;
  readonly protocols: ChainProtocols;
  readonly options: ResolvedNetworkOptions;
  readonly logger: Logger;
}

class NetworkService implements Network {
  readonly peerId: string;
  readonly #parts: NetworkParts;
  readonly #direct: DirectChannel;
  readonly #requests: RequestChannel;
  readonly #gossip: GossipChannel;
  readonly #redialler: Redialler;
  #state: NetworkState = "created";
  #onConnected: PeerHandler | undefined;
  #gossipHealth: ReturnType<typeof setInterval> | undefined;
  readonly #gossipMisses = new Map<string, number>();
  #onDisconnected: PeerHandler | undefined;

  constructor(parts: NetworkParts) {
    this.#parts = parts;
    const { libp2p, options, logger, protocols, gate } = parts;
    this.peerId = libp2p.peerId.toString();
    const common = { logger, metrics: options.metrics, faults: options.faults };
    const onMisbehaviour = (peer: string, error: NodeError): void => this.#misbehaved(peer, error);
    this.#direct = new DirectChannel({
      ...common,
      onMisbehaviour,
      openStream: this.#opener(protocols.direct),
    });
    this.#requests = new RequestChannel({
      ...common,
      onMisbehaviour,
      openStream: this.#opener(protocols.request),
    });
    this.#gossip = new GossipChannel({
      ...common,
      pubsub: libp2p.services.pubsub,
      topic: protocols.gossipTopic,
      allows: (peer) => gate.allows(peer),
    });
    this.#redialler = new Redialler({ target: this.#redialTarget(), addresses: options.peers, logger });
  }

  async start(): Promise<void> {
    if (this.#state !== "created") throw new NodeError("ALREADY_STARTED", "a network starts once");
    this.#state = "running";
    const { libp2p, protocols } = this.#parts;
    await libp2p.handle(
      protocols.direct,
      (stream, connection) => this.#direct.handleInbound(stream, connection),
      {
        maxInboundStreams: direct_inbound_streams_max,
        maxOutboundStreams: direct_inbound_streams_max,
      },
    );
    await libp2p.handle(
      protocols.request,
      (stream, connection) => this.#requests.handleInbound(stream, connection),
      {
        maxInboundStreams: request_inbound_streams_max,
        maxOutboundStreams: request_outbound_streams_max,
      },
    );
    this.#listenForPeers();
    await libp2p.start();
    this.#gossip.start();
    await this.#rememberConfiguredPeers();
    this.#redialler.start();
    this.#gossipHealth = setInterval(() => this.#checkGossipHealth(), gossip_health_interval_ms);
    this.#gossipHealth.unref?.();
    this.#parts.logger.info("network started", { peer: this.peerId, addresses: this.addresses() });
  }

  async stop(): Promise<void> {
    if (this.#state !== "running") {
      this.#state = "stopped";
      return;
    }
    this.#state = "stopped";
    clearInterval(this.#gossipHealth);
    this.#redialler.stop();
    this.#gossip.stop();
    this.#direct.stop();
    this.#requests.stop();
    await this.#parts.libp2p.stop();
    this.#parts.logger.info("network stopped", { peer: this.peerId });
  }

  addresses(): string[] {
    if (this.#state !== "running") return [];
    const suffix = `/p2p/${this.peerId}`;
    return this.#parts.libp2p.getMultiaddrs().map((address) => {
      const text = address.toString();
      return text.endsWith(suffix) ? text : text + suffix;
    });
  }

  peers(): string[] {
    if (this.#state !== "running") return [];
    const { libp2p, gate } = this.#parts;
    return libp2p
      .getPeers()
      .filter((peer) => gate.allows(peer))
      .map((peer) => peer.toString());
  }

  async disconnect(peer: string): Promise<void> {
    this.#assertRunning();
    await this.#parts.libp2p.hangUp(parsePeerId(peer));
  }

  async revalidatePeers(): Promise<void> {
    this.#assertRunning();
    const { libp2p, gate } = this.#parts;
    const refused = libp2p.getPeers().filter((peer) => !gate.allows(peer));
    for (const peer of refused) this.#direct.forget(peer.toString());
    await Promise.all(refused.map((peer) => libp2p.hangUp(peer)));
  }

  onPeerConnected(handler: PeerHandler): void {
    this.#onConnected = handler;
  }

  onPeerDisconnected(handler: PeerHandler): void {
    this.#onDisconnected = handler;
  }

  send(peer: string, frame: Uint8Array): boolean {
    this.#assertRunning();
    return this.#direct.send(peer, frame);
  }

  onDirect(handler: DirectHandler): void {
    this.#direct.onDirect(handler);
  }

  async request(peer: string, payload: Uint8Array, options: RequestOptions): Promise<Uint8Array> {
    this.#assertRunning();
    return this.#requests.request(peer, payload, options);
  }

  onRequest(handler: RequestHandler): void {
    this.#requests.onRequest(handler);
  }

  async publish(payload: Uint8Array): Promise<void> {
    this.#assertRunning();
    await this.#gossip.publish(payload);
  }

  onGossip(handler: GossipHandler, check?: GossipCheck): void {
    this.#gossip.onGossip(handler, check);
  }

  gossipPeers(): string[] {
    return this.#state === "running" ? this.#gossip.subscribers() : [];
  }

  #assertRunning(): void {
    if (this.#state !== "running") throw new NodeError("NOT_STARTED", "the network is not running");
  }

  /** Opens streams of one protocol; a dial to an unknown or refused peer fails like any other. */
  #opener(protocol: string): (peer: string, signal: AbortSignal) => Promise<Stream> {
    return (peer, signal) => this.#parts.libp2p.dialProtocol(parsePeerId(peer), protocol, { signal });
  }

  #redialTarget(): ConstructorParameters<typeof Redialler>[0]["target"] {
    const libp2p = this.#parts.libp2p;
    return {
      isConnected: (peer) => libp2p.getConnections(parsePeerId(peer)).length > 0,
      dial: async (address, signal) => {
        await libp2p.dial(address, { signal });
      },
    };
  }

  /** Adds the configured peers' addresses to the peer store so that sends can dial them at once. */
  /**
   * A connected member's node that stays missing from the gossip subscribers has lost its gossip
   * stream (gossipsub does not reopen it while the connection lives): close the connection, so the
   * peers dial again and gossipsub starts afresh.
   */
  #checkGossipHealth(): void {
    if (this.#state !== "running") return;
    const reset = gossipHealthCheck(
      this.#gossipMisses,
      new Set(this.peers()),
      this.#gossip.subscriberSet(),
      gossip_health_misses_max,
    );
    for (const peer of reset) {
      this.#parts.options.metrics.frameDropped("gossip", "stream_failed");
      this.#parts.logger.warn("no gossip stream with a connected peer: reconnecting", { peer });
      this.#parts.libp2p.hangUp(parsePeerId(peer)).catch(() => undefined);
    }
  }

  async #rememberConfiguredPeers(): Promise<void> {
    const { libp2p, options } = this.#parts;
    for (const address of options.peers) {
      const id = address.getComponents().findLast((component) => component.name === "p2p")?.value;
      if (id === undefined || id === this.peerId) continue;
      await libp2p.peerStore.merge(parsePeerId(id), { multiaddrs: [address] });
    }
  }

  #listenForPeers(): void {
    const { libp2p, options } = this.#parts;
    libp2p.addEventListener("peer:connect", (event) => {
      const peer = event.detail.toString();
      this.#direct.peerConnected(peer);
      options.metrics.peersConnected(libp2p.getPeers().length);
      this.#parts.logger.debug("peer connected", { peer });
      this.#callPeerHandler(this.#onConnected, event.detail);
    });
    libp2p.addEventListener("peer:disconnect", (event) => {
      options.metrics.peersConnected(libp2p.getPeers().length);
      this.#parts.logger.debug("peer disconnected", { peer: event.detail.toString() });
      this.#callPeerHandler(this.#onDisconnected, event.detail);
    });
  }

  #callPeerHandler(handler: PeerHandler | undefined, peer: PeerId): void {
    if (handler === undefined) return;
    try {
      handler(peer.toString());
    } catch (error) {
      this.#parts.logger.error("peer handler threw", { peer: peer.toString(), error });
    }
  }

  /** A peer broke the wire protocol: log, count, ban for a while, disconnect. The node keeps running. */
  #misbehaved(peer: string, error: NodeError): void {
    const reason = misbehaviourReason(error);
    this.#parts.logger.warn("peer misbehaved; disconnecting", { peer, reason, error });
    this.#parts.options.metrics.misbehaviour(reason);
    this.#parts.gate.ban(peer);
    this.#parts.libp2p.hangUp(parsePeerId(peer)).catch((hangUpError: unknown) => {
      this.#parts.logger.debug("hang up failed", { peer, error: hangUpError });
    });
  }
}

function misbehaviourReason(error: NodeError): MisbehaviourReason {
  if (error.code === "FRAME_TOO_LARGE") return "frame_too_large";
  return "frame_malformed";
}
