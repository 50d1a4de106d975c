/**
 * The network's metrics hooks (NetworkMetrics) as prom-client metrics in a node's Registry, next to the
 * API's. The hooks run for every frame, so they only add to plain numbers; prom-client reads them when
 * the registry is scraped. Every label takes values from a closed set (channel, direction, reason): no
 * peer ids, so the number of series is fixed. Each series exists from the start at 0, so that
 * `increase()` in an alert sees a peer's first misbehaviour.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { DropReason, MisbehaviourReason, NetworkChannel, NetworkMetrics } from "./metrics.js";

const CHANNELS: readonly NetworkChannel[] = ["direct", "request", "gossip"];
const DIRECTIONS = ["in", "out"] as const;
const DROP_REASONS: readonly DropReason[] = [
  "queue_full",
  "unreachable",
  "stream_failed",
  "no_handler",
  "not_allowed",
  "too_large",
  "invalid",
  "fault",
];
const MISBEHAVIOUR_REASONS: readonly MisbehaviourReason[] = [
  "frame_too_large",
  "frame_malformed",
  "ledger_refused",
];

type Table<Row extends string, Column extends string> = Record<Row, Record<Column, number>>;

/**
 * Registers the network's metrics in `registry` and returns the hooks that feed them:
 * `medledger_network_frames_total{channel,direction}`, `medledger_network_frame_bytes_total{channel,direction}`,
 * `medledger_network_frames_dropped_total{channel,reason}`, `medledger_peer_misbehaviour_total{reason}` and
 * `medledger_network_queue_depth{channel}` (direct and request). Connected peers are not duplicated
 * here: the API's `medledger_peers_connected` reads the allowed peers when scraped.
 */
export function createPromNetworkMetrics(registry: Registry): NetworkMetrics {
  const frames = table(CHANNELS, DIRECTIONS);
  const bytes = table(CHANNELS, DIRECTIONS);
  const dropped = table(CHANNELS, DROP_REASONS);
  const misbehaviour = zeros(MISBEHAVIOUR_REASONS);
  const depth = new Map<NetworkChannel, number>([
    ["direct", 0],
    ["request", 0],
  ]);

  counter(registry, {
    name: "medledger_network_frames_total",
    help: "frames (direct, request) and messages (gossip) sent or received, by channel and direction",
    labelNames: ["channel", "direction"],
    read: () => cells(frames, "channel", "direction"),
  });
  counter(registry, {
    name: "medledger_network_frame_bytes_total",
    help: "payload bytes of the frames and messages sent or received, by channel and direction",
    labelNames: ["channel", "direction"],
    read: () => cells(bytes, "channel", "direction"),
  });
  counter(registry, {
    name: "medledger_network_frames_dropped_total",
    help: "frames and messages dropped instead of sent or delivered, by channel and reason",
    labelNames: ["channel", "reason"],
    read: () => cells(dropped, "channel", "reason"),
  });
  counter(registry, {
    name: "medledger_peer_misbehaviour_total",
    help: "peers disconnected for a broken frame (then banned for a while) or a message the ledger refused",
    labelNames: ["reason"],
    read: () => MISBEHAVIOUR_REASONS.map((reason) => [{ reason }, misbehaviour[reason]] as const),
  });
  new Gauge({
    name: "medledger_network_queue_depth",
    help: "direct frames queued for sending (all peers together), or requests in flight",
    labelNames: ["channel"],
    registers: [registry],
    collect() {
      for (const [channel, value] of depth) this.set({ channel }, value);
    },
  });

  return {
    frameIn(channel, size) {
      frames[channel].in += 1;
      bytes[channel].in += size;
    },
    frameOut(channel, size) {
      frames[channel].out += 1;
      bytes[channel].out += size;
    },
    frameDropped(channel, reason) {
      dropped[channel][reason] += 1;
    },
    queueDepth(channel, value) {
      depth.set(channel, value);
    },
    peersConnected() {},
    misbehaviour(reason) {
      misbehaviour[reason] += 1;
    },
  };
}

/** A zero for each of `keys`. */
function zeros<Key extends string>(keys: readonly Key[]): Record<Key, number> {
  return Object.fromEntries(keys.map((key) => [key, 0])) as Record<Key, number>;
}

/** A table of zeros, one cell per row and column. */
function table<Row extends string, Column extends string>(
  rows: readonly Row[],
  columns: readonly Column[],
): Table<Row, Column> {
  return Object.fromEntries(rows.map((row) => [row, zeros(columns)])) as Table<Row, Column>;
}

/** Every cell of `values` as the labels and value of one series. */
function cells<Row extends string, Column extends string>(
  values: Table<Row, Column>,
  rowLabel: string,
  columnLabel: string,
): Array<readonly [Record<string, string>, number]> {
  return Object.entries<Record<Column, number>>(values).flatMap(([row, columns]) =>
    Object.entries<number>(columns).map(
      ([column, value]) => [{ [rowLabel]: row, [columnLabel]: column }, value] as const,
    ),
  );
}

/** A counter whose series are read from plain numbers when the registry is scraped. */
function counter(
  registry: Registry,
  spec: {
    name: string;
    help: string;
    labelNames: string[];
    read: () => ReadonlyArray<readonly [Record<string, string>, number]>;
  },
): void {
  new Counter({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of spec.read()) this.inc(labels, value);
    },
  });
}
