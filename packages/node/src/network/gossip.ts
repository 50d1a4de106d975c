/**
 * Channel 3, gossip (transaction batches) over gossipsub with StrictNoSign: each transaction carries its
 * own signature and Noise authenticates the peer, so gossipsub's per-message signature would only cost
 * time. Messages are bounded in size, and a message relayed by a peer that is not allowed is rejected.
 */

import {
  type GossipSub,
  type GossipsubMessage,
  gossipsub,
  StrictNoSign,
  TopicValidatorResult,
} from "@libp2p/gossipsub";
import type { PeerId } from "@libp2p/interface";
import { NodeError } from "../errors.js";
import {
  gossip_message_bytes_max,
  gossip_outbound_buffer_bytes_max,
  gossip_rpc_bytes_max,
} from "../limits.js";
import type { Logger } from "../logger.js";
import type { NetworkMetrics } from "./metrics.js";
import type { NetworkFaults } from "./options.js";

/** Receives one gossip message relayed by `peer` (not necessarily its author). */
export type GossipHandler = (peer: string, payload: Uint8Array) => void;
/** Screens a gossip message before it is delivered or relayed: false rejects it (never relayed). */
export type GossipCheck = (payload: Uint8Array) => boolean;

/** The gossipsub service factory configured for medledger's one topic. */
export function gossipService(topic: string): ReturnType<typeof gossipsub> {
  return gossipsub({
    globalSignaturePolicy: StrictNoSign,
    allowedTopics: [topic],
    fallbackToFloodsub: false,
    floodPublish: true,
    emitSelf: false,
    doPX: false,
    allowPublishToZeroTopicPeers: true,
    ignoreDuplicatePublishError: true,
    maxInboundDataLength: gossip_rpc_bytes_max,
    maxOutboundBufferSize: gossip_outbound_buffer_bytes_max,
  });
}

/** What the gossip channel needs from the network. */
export interface GossipChannelOptions {
  readonly pubsub: GossipSub;
  readonly topic: string;
  readonly allows: (peer: PeerId) => boolean;
  readonly logger: Logger;
  readonly metrics: NetworkMetrics;
  readonly faults: NetworkFaults | undefined;
}

/**
 * One check of gossip health: `misses` counts, per connected peer, the checks in a row it was missing
 * from the topic's subscribers (updated in place; peers no longer connected are forgotten). Returns the
 * peers missing for `missesMax` checks: their connection should be closed and dialled again.
 */
export function gossipHealthCheck(
  misses: Map<string, number>,
  connected: ReadonlySet<string>,
  subscribers: ReadonlySet<string>,
  missesMax: number,
): string[] {
  const reset: string[] = [];
  for (const peer of misses.keys()) if (!connected.has(peer)) misses.delete(peer);
  for (const peer of connected) {
    if (subscribers.has(peer)) {
      misses.delete(peer);
      continue;
    }
    const count = (misses.get(peer) ?? 0) + 1;
    if (count < missesMax) {
      misses.set(peer, count);
      continue;
    }
    misses.delete(peer);
    reset.push(peer);
  }
  return reset;
}

/** The gossip channel: publish, the validator that screens relays, and delivery to the handler. */
export class GossipChannel {
  readonly #options: GossipChannelOptions;
  #handler: GossipHandler | undefined;
  #check: GossipCheck | undefined;
  readonly #onMessage = (event: CustomEvent<GossipsubMessage>): void => this.#deliver(event.detail);

  constructor(options: GossipChannelOptions) {
    this.#options = options;
  }

  /**
   * Sets the handler of inbound messages (replacing any previous one), and the check each message must
   * pass first: a message failing it is rejected by the validator, so it is neither delivered nor
   * relayed, and gossipsub's scoring blames its relayer.
   */
  onGossip(handler: GossipHandler, check?: GossipCheck): void {
    this.#handler = handler;
    this.#check = check;
  }

  /** Subscribes to the topic and installs the validator; call once libp2p has started. */
  start(): void {
    const { pubsub, topic } = this.#options;
    pubsub.topicValidators.set(topic, (peer, message) => this.#validate(peer, message.data));
    pubsub.addEventListener("gossipsub:message", this.#onMessage);
    pubsub.subscribe(topic);
  }

  /** Unsubscribes; libp2p's stop closes the streams. */
  stop(): void {
    const { pubsub, topic } = this.#options;
    pubsub.removeEventListener("gossipsub:message", this.#onMessage);
    pubsub.topicValidators.delete(topic);
  }

  /** The peers (ids) subscribed to the topic, as a set. */
  subscriberSet(): Set<string> {
    return new Set(this.subscribers());
  }

  /** The peers (ids) subscribed to the topic. */
  subscribers(): string[] {
    return this.#options.pubsub.getSubscribers(this.#options.topic).map((peer) => peer.toString());
  }

  /** Publishes `payload` to every subscribed peer. */
  async publish(payload: Uint8Array): Promise<void> {
    if (payload.byteLength > gossip_message_bytes_max) {
      throw new NodeError("MESSAGE_TOO_LARGE", `gossip of ${payload.byteLength} bytes exceeds the limit`);
    }
    const { pubsub, topic, metrics, faults } = this.#options;
    if (faults?.dropOutbound?.("*", "gossip") === true) {
      metrics.frameDropped("gossip", "fault");
      return;
    }
    await pubsub.publish(topic, payload);
    metrics.frameOut("gossip", payload.byteLength);
  }

  #validate(peer: PeerId, data: Uint8Array): TopicValidatorResult {
    if (data.byteLength > gossip_message_bytes_max) {
      this.#options.metrics.frameDropped("gossip", "too_large");
      return TopicValidatorResult.Reject;
    }
    if (!this.#options.allows(peer)) {
      this.#options.metrics.frameDropped("gossip", "not_allowed");
      return TopicValidatorResult.Reject;
    }
    if (this.#options.faults?.dropInbound?.(peer.toString(), "gossip") === true) {
      this.#options.metrics.frameDropped("gossip", "fault");
      return TopicValidatorResult.Ignore;
    }
    if (this.#check !== undefined && !this.#check(data)) {
      this.#options.metrics.frameDropped("gossip", "invalid");
      this.#options.logger.warn("rejected an invalid gossip message", { peer: peer.toString() });
      return TopicValidatorResult.Reject;
    }
    return TopicValidatorResult.Accept;
  }

  #deliver(message: GossipsubMessage): void {
    const peer = message.propagationSource.toString();
    const { metrics, logger } = this.#options;
    const handler = this.#handler;
    if (handler === undefined) {
      metrics.frameDropped("gossip", "no_handler");
      return;
    }
    metrics.frameIn("gossip", message.msg.data.byteLength);
    try {
      handler(peer, message.msg.data);
    } catch (error) {
      logger.error("gossip handler threw", { peer, error });
    }
  }
}
