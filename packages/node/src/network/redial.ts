/**
 * Keeps the configured peers connected: every `redial_interval_ms` it dials each configured peer that is
 * not connected and whose backoff has passed; the backoff doubles on failure and resets on success.
 */

import type { Multiaddr } from "@multiformats/multiaddr";
import {
  dial_timeout_ms,
  redial_backoff_initial_ms,
  redial_backoff_max_ms,
  redial_interval_ms,
} from "../limits.js";
import type { Logger } from "../logger.js";

/** The narrow slice of libp2p the redialler needs. */
export interface RedialTarget {
  isConnected(peer: string): boolean;
  dial(address: Multiaddr, signal: AbortSignal): Promise<void>;
}

interface PeerDial {
  readonly peer: string;
  readonly address: Multiaddr;
  nextAt: number;
  backoffMs: number;
  dialling: boolean;
}

/** The redial loop over the configured peers. */
export class Redialler {
  readonly #target: RedialTarget;
  readonly #logger: Logger;
  readonly #dials: PeerDial[];
  readonly #abort = new AbortController();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: { target: RedialTarget; addresses: readonly Multiaddr[]; logger: Logger }) {
    this.#target = options.target;
    this.#logger = options.logger;
    this.#dials = options.addresses.map((address) => ({
      peer: address.getComponents().findLast((component) => component.name === "p2p")?.value ?? "",
      address,
      nextAt: 0,
      backoffMs: redial_backoff_initial_ms,
      dialling: false,
    }));
  }

  /** Dials every configured peer now, then keeps them connected. */
  start(): void {
    this.#tick();
    this.#timer = setInterval(() => this.#tick(), redial_interval_ms);
    this.#timer.unref();
  }

  /** Stops the loop and aborts dials in flight. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#abort.abort();
  }

  #tick(): void {
    const now = Date.now();
    for (const dial of this.#dials) {
      if (dial.dialling || dial.nextAt > now || this.#target.isConnected(dial.peer)) continue;
      this.#dial(dial);
    }
  }

  #dial(dial: PeerDial): void {
    dial.dialling = true;
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(dial_timeout_ms)]);
    this.#target
      .dial(dial.address, signal)
      .then(() => {
        dial.backoffMs = redial_backoff_initial_ms;
        dial.nextAt = 0;
      })
      .catch((error: unknown) => {
        if (this.#abort.signal.aborted) return;
        this.#logger.debug("dial failed", { peer: dial.peer, error, backoff_ms: dial.backoffMs });
        dial.nextAt = Date.now() + dial.backoffMs;
        dial.backoffMs = Math.min(dial.backoffMs * 2, redial_backoff_max_ms);
      })
      .finally(() => {
        dial.dialling = false;
      });
  }
}
