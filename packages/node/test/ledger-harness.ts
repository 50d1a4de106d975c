// An in-process cluster of LedgerNodes on a ManualClock and an in-memory transport hub that can drop,
// partition and isolate. It runs the production LedgerNode unchanged; only the wire is simulated.

import {
  encodeSignedTx,
  type Genesis,
  type Signer,
  sha256,
  signTx,
  type TxBodies,
  type TxKind,
  type UnsignedTx,
  utf8,
} from "@medledger/protocol";
import { nodeSigner, nodeVerifier } from "@medledger/protocol/node";
import { ManualClock } from "../src/ledger/clock.js";
import { LedgerNode, type LedgerTransport } from "../src/ledger/ledger-node.js";
import { type LedgerStore, MemoryLedgerStore } from "../src/ledger/store.js";

export const CHAIN = "ledger-test";
export const T0 = 1_800_000_000_000;

/** A deterministic signer named `name`. */
export function signerOf(name: string): Signer {
  return nodeSigner(sha256(utf8(`medledger-test:${name}`)));
}

/** Routes frames between nodes of one process; `cut(a, b)` drops a→b frames. */
export class Hub {
  private readonly handlers = new Map<string, (from: string, frame: Uint8Array) => void>();
  private readonly gossipHandlers = new Map<string, (from: string, payload: Uint8Array) => void>();
  private readonly gossipChecks = new Map<string, (payload: Uint8Array) => boolean>();
  /** Gossip payloads a node's check rejected (as gossipsub's validator would): [node, from]. */
  readonly gossipRejected: Array<[string, string]> = [];
  private readonly requestHandlers = new Map<
    string,
    (from: string, payload: Uint8Array) => Promise<Uint8Array>
  >();
  private readonly cuts = new Set<string>();
  delivered = 0;
  /** Misbehaviour reports: [reporter, peer, reason]. */
  readonly reports: Array<[string, string, string]> = [];

  constructor(private readonly clock: ManualClock) {}

  /** The transport of node `id`. */
  transport(id: string): LedgerTransport {
    return {
      send: (to, frame) => {
        if (this.cuts.has(`${id}>${to}`)) return true;
        this.clock.defer(() => {
          if (this.cuts.has(`${id}>${to}`)) return;
          this.delivered++;
          this.handlers.get(to)?.(id, frame);
        });
        return true;
      },
      onDirect: (handler) => this.handlers.set(id, handler),
      publish: (payload) => {
        for (const peer of this.gossipHandlers.keys()) {
          if (peer === id || this.cuts.has(`${id}>${peer}`)) continue;
          this.clock.defer(() => this.deliverGossip(id, peer, payload));
        }
      },
      onGossip: (handler, check) => {
        this.gossipHandlers.set(id, handler);
        if (check === undefined) this.gossipChecks.delete(id);
        else this.gossipChecks.set(id, check);
      },
      request: (peer, payload) => {
        if (this.cuts.has(`${id}>${peer}`) || this.cuts.has(`${peer}>${id}`)) {
          return Promise.reject(new Error("unreachable"));
        }
        const handler = this.requestHandlers.get(peer);
        if (handler === undefined) return Promise.reject(new Error("no handler"));
        return new Promise((resolve, reject) =>
          this.clock.defer(() => handler(id, payload).then(resolve, reject)),
        );
      },
      onRequest: (handler) => this.requestHandlers.set(id, handler),
      reportMisbehaviour: (peer, reason) => {
        this.reports.push([id, peer, reason]);
      },
    };
  }

  /** Delivers a raw frame to `to` as if `from` had sent it. */
  inject(from: string, to: string, frame: Uint8Array): void {
    this.clock.defer(() => this.handlers.get(to)?.(from, frame));
  }

  /** Delivers a raw gossip payload to `to` as if `from` had published it. */
  injectGossip(from: string, to: string, payload: Uint8Array): void {
    this.clock.defer(() => this.deliverGossip(from, to, payload));
  }

  /** Runs `to`'s gossip check, then its handler (a rejected payload is recorded, not delivered). */
  private deliverGossip(from: string, to: string, payload: Uint8Array): void {
    const check = this.gossipChecks.get(to);
    if (check !== undefined && !check(payload)) {
      this.gossipRejected.push([to, from]);
      return;
    }
    this.gossipHandlers.get(to)?.(from, payload);
  }

  /** Drops every frame from a to b (one way). */
  cut(a: string, b: string): void {
    this.cuts.add(`${a}>${b}`);
  }

  /** Cuts `id` off from every other node in both directions. */
  isolate(id: string, others: readonly string[]): void {
    for (const other of others) {
      if (other === id) continue;
      this.cut(id, other);
      this.cut(other, id);
    }
  }

  /** Heals every cut. */
  heal(): void {
    this.cuts.clear();
  }
}

/** A cluster of `size` founding members with one node each. */
export class Cluster {
  readonly clock = new ManualClock(T0);
  readonly hub = new Hub(this.clock);
  readonly genesis: Genesis;
  readonly members: Signer[];
  readonly nodeSigners: Signer[];
  readonly nodes: LedgerNode[];
  private nonce = 0;

  constructor(
    size: number,
    private readonly storeOf: (genesis: Genesis) => LedgerStore = (genesis) => new MemoryLedgerStore(genesis),
    private readonly nodeOptions: { snapshotEveryEntries?: number } = {},
  ) {
    this.members = Array.from({ length: size }, (_, index) => signerOf(`member-${index}`));
    this.nodeSigners = Array.from({ length: size }, (_, index) => signerOf(`node-${index}`));
    this.genesis = {
      chain: CHAIN,
      time: T0,
      members: this.members.map((member, index) => ({
        member: member.did,
        nodes: [(this.nodeSigners[index] as Signer).did],
      })),
    };
    this.nodes = this.nodeSigners.map((signer) => this.makeNode(signer));
  }

  /** A new LedgerNode for `signer` on a fresh memory store. */
  makeNode(signer: Signer): LedgerNode {
    return new LedgerNode({
      genesis: this.genesis,
      signer,
      store: this.storeOf(this.genesis),
      transport: this.hub.transport(signer.did),
      clock: this.clock,
      verifier: nodeVerifier,
      tickMs: 100,
      ...this.nodeOptions,
    });
  }

  /** The signer of founding member `index`. */
  member(index: number): Signer {
    const member = this.members[index];
    if (member === undefined) throw new Error(`no member ${index}`);
    return member;
  }

  /** Node `index`. */
  node(index: number): LedgerNode {
    const node = this.nodes[index];
    if (node === undefined) throw new Error(`no node ${index}`);
    return node;
  }

  /** Starts every node. */
  start(): void {
    for (const node of this.nodes) node.start();
  }

  /** Stops every node. */
  stop(): void {
    for (const node of this.nodes) node.stop();
  }

  /** Advances simulated time until `done()` holds, in steps of `stepMs`; throws after `limitMs`. */
  runUntil(done: () => boolean, limitMs = 60_000, stepMs = 10): void {
    for (let elapsed = 0; elapsed <= limitMs; elapsed += stepMs) {
      if (done()) return;
      this.clock.advance(stepMs);
    }
    throw new Error(`condition not reached within ${limitMs} simulated ms`);
  }

  /** runUntil for work that awaits promises (state transfer): lets microtasks and I/O run between steps. */
  async runUntilAsync(done: () => boolean, limitMs = 60_000, stepMs = 10): Promise<void> {
    for (let elapsed = 0; elapsed <= limitMs; elapsed += stepMs) {
      if (done()) return;
      this.clock.advance(stepMs);
      await new Promise((resolve) => setImmediate(resolve));
    }
    throw new Error(`condition not reached within ${limitMs} simulated ms`);
  }

  /** The current leader, if exactly one node leads. */
  leader(): LedgerNode | null {
    const leaders = this.nodes.filter((node) => node.status().role === "leader");
    return leaders.length === 1 ? (leaders[0] as LedgerNode) : null;
  }

  /** An encoded transaction of `kind` by `signer`, live for an hour. */
  tx<K extends TxKind>(kind: K, signer: Signer, body: TxBodies[K]): Uint8Array {
    return encodeSignedTx(signTx(this.unsigned(kind, signer.did, body), [signer]));
  }

  /** An unsigned transaction of `kind` by identity `signer`, live for an hour. */
  unsigned<K extends TxKind>(kind: K, signer: string, body: TxBodies[K]): UnsignedTx<K> {
    return {
      v: 1,
      chain: CHAIN,
      kind,
      signer,
      nonce: this.nonce++,
      expires: this.clock.now() + 3_600_000,
      body,
    };
  }
}
