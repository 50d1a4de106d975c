/**
 * The connection gater: only current members' nodes may connect, in either direction, and a peer that
 * broke the wire protocol is refused for a while. Checked before dialling a known peer id (denyDialPeer,
 * denyOutboundConnection), and again after the Noise handshake, when the remote's key is authenticated.
 */

import type { ConnectionGater, PeerId } from "@libp2p/interface";
import { misbehaving_peer_ban_ms, peers_max } from "../limits.js";
import type { Logger } from "../logger.js";
import { ed25519PublicKeyOrUndefined } from "./identity.js";

/** Decides which peers may connect; owns the short ban list of misbehaving peers. */
export class PeerGate {
  readonly #isAllowedPeer: (publicKey: Uint8Array) => boolean;
  readonly #logger: Logger;
  readonly #now: () => number;
  /** Banned peer id → the time the ban ends. */
  readonly #bans = new Map<string, number>();

  constructor(options: {
    isAllowedPeer: (publicKey: Uint8Array) => boolean;
    logger: Logger;
    now?: () => number;
  }) {
    this.#isAllowedPeer = options.isAllowedPeer;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
  }

  /** True when `peerId` is an ed25519 peer whose key the membership allows and that is not banned. */
  allows(peerId: PeerId): boolean {
    const publicKey = ed25519PublicKeyOrUndefined(peerId);
    if (publicKey === undefined) return false;
    if (this.#isBanned(peerId.toString())) return false;
    return this.#callIsAllowed(publicKey);
  }

  /** Refuses `peerId` for `misbehaving_peer_ban_ms`. */
  ban(peerId: string): void {
    if (this.#bans.size >= peers_max) this.#forgetExpiredBans();
    if (this.#bans.size >= peers_max) return;
    this.#bans.set(peerId, this.#now() + misbehaving_peer_ban_ms);
  }

  /** The libp2p connection gater that applies this gate. */
  connectionGater(): ConnectionGater {
    const deny = (peerId: PeerId, where: string): boolean => {
      const allowed = this.allows(peerId);
      if (!allowed) this.#logger.info("peer refused", { peer: peerId.toString(), where });
      return !allowed;
    };
    return {
      denyDialPeer: (peerId) => deny(peerId, "dial"),
      denyOutboundConnection: (peerId) => deny(peerId, "outbound"),
      denyInboundEncryptedConnection: (peerId) => deny(peerId, "inbound-encrypted"),
      denyOutboundEncryptedConnection: (peerId) => deny(peerId, "outbound-encrypted"),
      denyInboundUpgradedConnection: (peerId) => deny(peerId, "inbound-upgraded"),
      denyOutboundUpgradedConnection: (peerId) => deny(peerId, "outbound-upgraded"),
    };
  }

  #isBanned(peerId: string): boolean {
    const until = this.#bans.get(peerId);
    if (until === undefined) return false;
    if (until > this.#now()) return true;
    this.#bans.delete(peerId);
    return false;
  }

  #forgetExpiredBans(): void {
    const now = this.#now();
    for (const [peerId, until] of this.#bans) if (until <= now) this.#bans.delete(peerId);
  }

  /** A throwing membership callback must not take libp2p down: treat it as a refusal. */
  #callIsAllowed(publicKey: Uint8Array): boolean {
    try {
      return this.#isAllowedPeer(publicKey) === true;
    } catch (error) {
      this.#logger.error("isAllowedPeer threw; peer refused", { error });
      return false;
    }
  }
}
