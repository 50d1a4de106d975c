// Helpers for tests that run real nodes: real SQLite files in temporary directories, real libp2p over
// TCP on 127.0.0.1 (ports reserved up front so every node can dial every other), signed transactions.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  encodeSignedTx,
  type Genesis,
  publicKeyFromSecretKey,
  publicKeyToDid,
  type Signer,
  sha256,
  signTx,
  type TxBodies,
  type TxKind,
  utf8,
} from "@medledger/protocol";
import { nodeSigner } from "@medledger/protocol/node";
import { freePorts } from "../src/demo-ports.js";
import { peerIdFromPublicKey } from "../src/network/identity.js";

/** A deterministic secret key named `name`. */
export function secretOf(name: string): Uint8Array {
  return sha256(utf8(`medledger-node-test:${name}`));
}

/** A deterministic signer named `name`. */
export function signerFor(name: string): Signer {
  return nodeSigner(secretOf(name));
}

/** The layout of a test network: keys, genesis, ports and each node's peers. */
export interface TestNetwork {
  readonly chain: string;
  readonly genesis: Genesis;
  readonly members: Signer[];
  readonly nodeSecrets: Uint8Array[];
  readonly nodeDids: string[];
  readonly listen: string[];
  /** Each node's multiaddr with its /p2p/ id. */
  readonly addresses: string[];
  readonly dirs: string[];
  /** Every address but node `index`'s. */
  peersOf(index: number): string[];
  /** Removes the temporary directories. */
  cleanup(): void;
}

/** Keys, genesis, ports and data directories for `size` founding members with one node each. */
export async function testNetwork(size: number, name = "net"): Promise<TestNetwork> {
  const chain = `test-${name}`;
  const members = Array.from({ length: size }, (_, index) => signerFor(`${name}-member-${index}`));
  const nodeSecrets = Array.from({ length: size }, (_, index) => secretOf(`${name}-node-${index}`));
  const nodeDids = nodeSecrets.map((secret) => publicKeyToDid(publicKeyFromSecretKey(secret)));
  const ports = await freePorts(size);
  const listen = ports.map((port) => `/ip4/127.0.0.1/tcp/${port}`);
  const addresses = listen.map(
    (address, index) =>
      `${address}/p2p/${peerIdFromPublicKey(publicKeyFromSecretKey(nodeSecrets[index] as Uint8Array))}`,
  );
  const root = mkdtempSync(join(tmpdir(), `medledger-${name}-`));
  const dirs = nodeDids.map((_, index) => join(root, `node-${index}`));
  return {
    chain,
    genesis: {
      chain,
      time: Date.now() - 1000,
      members: members.map((member, index) => ({ member: member.did, nodes: [nodeDids[index] as string] })),
    },
    members,
    nodeSecrets,
    nodeDids,
    listen,
    addresses,
    dirs,
    peersOf: (index) => addresses.filter((_, other) => other !== index),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

let nonce = 0;

/** An encoded transaction of `kind` by `signer` on `chain`, live for ten minutes. */
export function encodedTx<K extends TxKind>(
  chain: string,
  kind: K,
  signer: Signer,
  body: TxBodies[K],
): Uint8Array {
  return encodeSignedTx(
    signTx({ v: 1, chain, kind, signer: signer.did, nonce: nonce++, expires: Date.now() + 600_000, body }, [
      signer,
    ]),
  );
}

/** Polls `condition` every 20 ms until it holds; throws after `timeoutMs` with `what`. */
export async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
