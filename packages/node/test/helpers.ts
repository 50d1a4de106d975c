/**
 * Test harness for the network: deterministic node seeds, a shared membership, clusters of real libp2p
 * nodes on 127.0.0.1, and polling with a deadline. Every node made here is stopped by `stopAll`.
 */

import { generateKeyPairFromSeed } from "@libp2p/crypto/keys";
import { createNetwork, type Network, type NetworkOptions } from "../src/index.js";

/** A deterministic 32-byte seed for test node `n`. */
export function seedOf(n: number): Uint8Array {
  return new Uint8Array(32).fill(n);
}

/** The ed25519 public key of `seed`. */
export async function publicKeyOf(seed: Uint8Array): Promise<Uint8Array> {
  return (await generateKeyPairFromSeed("Ed25519", seed)).publicKey.raw;
}

/** A membership: a set of public keys, compared by hex. */
export class Membership {
  readonly #keys = new Set<string>();

  /** Admits a public key. */
  add(publicKey: Uint8Array): void {
    this.#keys.add(Buffer.from(publicKey).toString("hex"));
  }

  /** Removes a public key. */
  remove(publicKey: Uint8Array): void {
    this.#keys.delete(Buffer.from(publicKey).toString("hex"));
  }

  /** The isAllowedPeer callback of this membership. */
  readonly allows = (publicKey: Uint8Array): boolean =>
    this.#keys.has(Buffer.from(publicKey).toString("hex"));
}

export const chain_id = "test-chain";

const started: Network[] = [];

/** Creates and starts a network on 127.0.0.1 with an ephemeral port. */
export async function startNode(options: Partial<NetworkOptions> & { seed: Uint8Array }): Promise<Network> {
  const network = await createNetwork({
    chainId: chain_id,
    isAllowedPeer: () => true,
    ...options,
  });
  started.push(network);
  await network.start();
  return network;
}

/** Starts `count` members (seeds 1..count), each dialling the ones started before it. */
export async function startCluster(
  count: number,
  membership = new Membership(),
  extra: (n: number) => Partial<NetworkOptions> = () => ({}),
): Promise<Network[]> {
  for (let n = 1; n <= count; n++) membership.add(await publicKeyOf(seedOf(n)));
  const nodes: Network[] = [];
  for (let n = 1; n <= count; n++) {
    const peers = nodes.flatMap((node) => node.addresses());
    nodes.push(await startNode({ seed: seedOf(n), isAllowedPeer: membership.allows, peers, ...extra(n) }));
  }
  await waitFor(() => nodes.every((node) => node.peers().length === count - 1), "cluster connected");
  return nodes;
}

/** Stops every network started by this harness. */
export async function stopAll(): Promise<void> {
  const nodes = started.splice(0);
  await Promise.all(nodes.map((node) => node.stop()));
}

/** Polls `predicate` every 20 ms until it holds; fails after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(20);
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A frame that encodes `sender` and `sequence` (and `padding` zero bytes). */
export function numberedFrame(sender: number, sequence: number, padding = 0): Uint8Array {
  const frame = new Uint8Array(8 + padding);
  const view = new DataView(frame.buffer);
  view.setUint32(0, sender);
  view.setUint32(4, sequence);
  return frame;
}

/** The sender and sequence encoded by `numberedFrame`. */
export function readNumberedFrame(frame: Uint8Array): { sender: number; sequence: number } {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  return { sender: view.getUint32(0), sequence: view.getUint32(4) };
}
