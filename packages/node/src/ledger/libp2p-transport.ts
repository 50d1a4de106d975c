/**
 * Adapts the libp2p Network (peers named by peer ids) to the ledger's transport (peers named by node
 * DIDs). A node's peer id and its DID name the same ed25519 public key, so the mapping is exact.
 */
import { didToPublicKey, publicKeyToDid } from "@medledger/protocol";
import type { Logger } from "../logger.js";
import { peerIdFromPublicKey, publicKeyFromPeerId } from "../network/identity.js";
import type { NetworkMetrics } from "../network/metrics.js";
import type { Network } from "../network/network.js";
import type { LedgerTransport } from "./ledger-node.js";

const conversions_max = 4096;

/** Converts between node DIDs and libp2p peer ids, with a small bounded cache. */
export class PeerNames {
  private readonly toPeer = new Map<string, string>();
  private readonly toDid = new Map<string, string>();

  /** The libp2p peer id of node `did`. */
  peerOf(did: string): string {
    let peer = this.toPeer.get(did);
    if (peer === undefined) {
      peer = peerIdFromPublicKey(didToPublicKey(did));
      remember(this.toPeer, did, peer);
    }
    return peer;
  }

  /** The node DID of libp2p peer `peer`. */
  didOf(peer: string): string {
    let did = this.toDid.get(peer);
    if (did === undefined) {
      did = publicKeyToDid(publicKeyFromPeerId(peer));
      remember(this.toDid, peer, did);
    }
    return did;
  }
}

function remember(map: Map<string, string>, key: string, value: string): void {
  if (map.size >= conversions_max) map.clear();
  map.set(key, value);
}

/**
 * The ledger transport over a libp2p Network. A peer whose message the ledger refuses is disconnected and
 * counted in `metrics` as misbehaviour "ledger_refused" (the ledger's reason text stays in the log only).
 */
export function libp2pTransport(
  network: Network,
  logger: Logger,
  metrics?: Pick<NetworkMetrics, "misbehaviour">,
): LedgerTransport {
  const names = new PeerNames();
  return {
    send: (to, frame) => network.send(names.peerOf(to), frame),
    onDirect: (handler) => network.onDirect((peer, frame) => handler(names.didOf(peer), frame)),
    publish: (payload) => {
      network.publish(payload).catch((error: unknown) => {
        logger.warn("gossip publish failed", {
          reason: error instanceof Error ? error.message : String(error),
        });
      });
    },
    onGossip: (handler, check) =>
      network.onGossip((peer, payload) => handler(names.didOf(peer), payload), check),
    request: (peer, payload, timeoutMs) => network.request(names.peerOf(peer), payload, { timeoutMs }),
    onRequest: (handler) => network.onRequest((peer, payload) => handler(names.didOf(peer), payload)),
    reportMisbehaviour: (peer, reason) => {
      logger.warn("disconnecting a misbehaving peer", { peer: peer.slice(-8), reason });
      metrics?.misbehaviour("ledger_refused");
      network.disconnect(names.peerOf(peer)).catch(() => undefined);
    },
  };
}
