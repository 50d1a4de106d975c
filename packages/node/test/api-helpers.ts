// Helpers for the API tests: a real node (SQLite, libp2p on 127.0.0.1, the ledger) with its vault, the
// API built over it for app.inject(), and signed transactions in the shapes the routes take.
import {
  type Category,
  decodeSignedTxWithId,
  encodeSignedTx,
  type Purpose,
  type Signer,
  sha256,
  signTx,
  type TxBodies,
  type TxKind,
  toHex,
  txToJson,
  utf8,
} from "@medledger/protocol";
import { buildApi } from "../src/api/app.js";
import type { ApiInstance } from "../src/api/context.js";
import { type MedledgerNode, startNode } from "../src/node.js";
import type { Vault } from "../src/vault/vault.js";
import { signerFor, type TestNetwork, testNetwork, waitFor } from "./node-helpers.js";

export const ADMIN = "a".repeat(64);

/** One node with an API built over it (not listening). */
export interface ApiFixture {
  readonly net: TestNetwork;
  readonly node: MedledgerNode;
  readonly vault: Vault;
  readonly app: ApiInstance;
  readonly chain: string;
  readonly member: Signer;
  close(): Promise<void>;
}

/** Starts a one-node network and builds its API (rate limit raised so property tests are not throttled). */
export async function singleNodeApi(
  name: string,
  options: { rateLimitMax?: number } = {},
): Promise<ApiFixture> {
  const net = await testNetwork(1, name);
  const node = await startNode({
    dataDir: net.dirs[0] as string,
    genesis: net.genesis,
    nodeSecretKey: net.nodeSecrets[0] as Uint8Array,
    listen: [net.listen[0] as string],
    tickMs: 20,
    api: { host: "127.0.0.1", port: 0, adminToken: ADMIN },
  });
  await waitFor(() => node.ledger.status().role === "leader", 10_000, "a leader");
  const vault = node.vault as Vault;
  const app = buildApi({
    node,
    adminToken: ADMIN,
    vault,
    rateLimit: { max: options.rateLimitMax ?? 1_000_000, windowMs: 60_000 },
    eventLoopDelayMaxMs: 0,
  });
  await app.ready();
  return {
    net,
    node,
    vault,
    app,
    chain: net.chain,
    member: net.members[0] as Signer,
    close: async () => {
      await app.close();
      await node.stop();
      net.cleanup();
    },
  };
}

let nonce = 1_000_000;

/** A signed transaction of `kind` by `signer`, live for ten minutes. */
export function signed<K extends TxKind>(chain: string, kind: K, signer: Signer, body: TxBodies[K]) {
  const tx = signTx(
    { v: 1, chain, kind, signer: signer.did, nonce: nonce++, expires: Date.now() + 600_000, body },
    [signer],
  );
  const encoded = encodeSignedTx(tx);
  return {
    tx,
    json: txToJson(tx),
    encoded,
    hex: toHex(encoded),
    id: toHex(decodeSignedTxWithId(encoded).id),
  };
}

/** The people of a scenario. */
export function people(name: string) {
  return {
    patient: signerFor(`${name}-patient`),
    provider: signerFor(`${name}-provider`),
    other: signerFor(`${name}-other-provider`),
  };
}

export function registerProvider(chain: string, member: Signer, provider: Signer) {
  return signed(chain, "provider.register", member, {
    provider: provider.did,
    licenseHash: sha256(utf8(`licence of ${provider.did}`)),
  });
}

export function anchorOf(
  chain: string,
  provider: Signer,
  body: { record: string; patient: string; category: Category; content: Uint8Array; format?: string },
) {
  return signed(chain, "record.anchor", provider, {
    record: body.record,
    patient: body.patient,
    category: body.category,
    format: body.format ?? "Observation",
    contentHash: sha256(body.content),
  });
}

export function accessLogOf(
  chain: string,
  provider: Signer,
  body: { patient: string; category: Category; purpose: Purpose; record?: string },
) {
  return signed(chain, "access.log", provider, body);
}
