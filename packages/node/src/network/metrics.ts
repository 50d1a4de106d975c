/**
 * The network's metrics hooks: a narrow interface the node's Prometheus registry implements at the edge
 * (prom-metrics.ts), and a no-op default. Calls are cheap and synchronous; an implementation must never throw.
 */

/** The network channel a figure belongs to. */
export type NetworkChannel = "direct" | "request" | "gossip";

/** Why a frame or message was dropped instead of delivered. */
export type DropReason =
  | "queue_full"
  | "unreachable"
  | "stream_failed"
  | "no_handler"
  | "not_allowed"
  | "too_large"
  | "invalid"
  | "fault";

/**
 * Why a peer was judged to misbehave (and disconnected): a frame over the size limit or with a broken
 * length prefix (the network also bans it for a while), or a well-framed message the ledger refused
 * (undecodable, sent in another node's name, a term too far ahead, a second leader in one term...).
 */
export type MisbehaviourReason = "frame_too_large" | "frame_malformed" | "ledger_refused";

/** Counters and gauges of the network layer. */
export interface NetworkMetrics {
  /** Counts one frame or message received on `channel`, of `bytes` payload bytes. */
  frameIn(channel: NetworkChannel, bytes: number): void;
  /** Counts one frame or message sent on `channel`, of `bytes` payload bytes. */
  frameOut(channel: NetworkChannel, bytes: number): void;
  /** Counts one frame or message dropped on `channel`. */
  frameDropped(channel: NetworkChannel, reason: DropReason): void;
  /** Sets the gauge of frames queued (direct) or operations in flight (request) on `channel`. */
  queueDepth(channel: NetworkChannel, depth: number): void;
  /** Sets the gauge of connected, allowed peers. */
  peersConnected(count: number): void;
  /** Counts one misbehaviour event (the peer was disconnected). */
  misbehaviour(reason: MisbehaviourReason): void;
}

/** Metrics hooks that record nothing. */
export const noopNetworkMetrics: NetworkMetrics = {
  frameIn: () => {},
  frameOut: () => {},
  frameDropped: () => {},
  queueDepth: () => {},
  peersConnected: () => {},
  misbehaviour: () => {},
};
