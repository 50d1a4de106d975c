/**
 * A medledger node assembled from its parts: the SQLite chain database, the libp2p network, and the
 * ledger driver. This is what the CLI starts; tests start several in one process or in many.
 * With `api` set it also opens the vault and serves the HTTP API once the ledger runs. One Prometheus
 * registry per node holds the network's metrics (and the API's, served at GET /metrics). Shutdown runs in
 * a fixed order: close the API, stop the ledger, stop the network, close the vault and the database.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Genesis, type LedgerEvent, parseGenesis, publicKeyToDid } from "@medledger/protocol";
import { nodeSigner, nodeVerifier } from "@medledger/protocol/node";
import { Registry } from "prom-client";
import { loadOrCreateAdminToken } from "./api/auth.js";
import { type RunningApi, startApi } from "./api/server.js";
import type { Clock } from "./ledger/clock.js";
import { LedgerNode } from "./ledger/ledger-node.js";
import { libp2pTransport } from "./ledger/libp2p-transport.js";
import { SqliteLedgerStore } from "./ledger/sqlite-store.js";
import { type Logger, silentLogger } from "./logger.js";
import { publicKeyFromPeerId } from "./network/identity.js";
import { createNetwork, type Network } from "./network/network.js";
import type { NetworkFaults } from "./network/options.js";
import { createPromNetworkMetrics } from "./network/prom-metrics.js";
import { type ChainDb, openChainDb } from "./storage/db.js";
import { loadOrCreateMasterKey, VAULT_DB_FILE } from "./vault/master-key.js";
import { Vault } from "./vault/vault.js";

/** File name of the chain database inside a node's data directory. */
export const CHAIN_DB_FILE = "chain.db";

/** What a node needs to start. */
export interface NodeOptions {
  /** The node's data directory (it holds chain.db). */
  readonly dataDir: string;
  readonly genesis: Genesis;
  /** The node's ed25519 secret key (32 bytes): its libp2p identity and its Raft id. */
  readonly nodeSecretKey: Uint8Array;
  /** Multiaddrs to listen on (default /ip4/127.0.0.1/tcp/0). */
  readonly listen?: readonly string[];
  /** Multiaddrs of the peers to keep connected, each ending in /p2p/<peer id>. */
  readonly peers?: readonly string[];
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** Length of one Raft tick (default 100 ms). */
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  /** Fault hooks for the chaos suite. */
  readonly faults?: NetworkFaults;
  /**
   * Serve the HTTP API (and open the vault, dataDir/vault.db). The admin token defaults to the one in
   * dataDir/admin.token, generated (mode 0600) when absent. Port 0 picks a free port.
   */
  readonly api?: {
    readonly host: string;
    readonly port: number;
    readonly adminToken?: string;
    /** Requests per window per client address (default: the API's named limits). */
    readonly rateLimit?: { readonly max: number; readonly windowMs: number };
  };
}

/** A running node. */
export interface MedledgerNode {
  /** The node's DID (its Raft id). */
  readonly id: string;
  readonly ledger: LedgerNode;
  readonly network: Network;
  readonly db: ChainDb;
  /** The vault (off-chain records), open when the node serves the API; else null. */
  readonly vault: Vault | null;
  /** The HTTP API's base URL, or null without one. */
  readonly apiUrl: string | null;
  /**
   * The node's Prometheus registry: the network's metrics (frames, drops, misbehaviour, queues) and,
   * with the API, the API's. GET /metrics serves it; without the API it still counts.
   */
  readonly metrics: Registry;
  /** The network's listen addresses, each ending in /p2p/<peer id>. */
  addresses(): string[];
  /** Closes the API, stops the ledger and the network, closes the vault and the database. Idempotent. */
  stop(): Promise<void>;
}

/** Creates the data directory if needed, opens the node's database, starts its network and its ledger. */
export async function startNode(options: NodeOptions): Promise<MedledgerNode> {
  const genesis = parseGenesis(options.genesis);
  const logger = (options.logger ?? silentLogger).child({ module: "node" });
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const db = openChainDb({ path: join(options.dataDir, CHAIN_DB_FILE), logger });
  const metrics = new Registry();
  const networkMetrics = createPromNetworkMetrics(metrics);
  let network: Network | null = null;
  let vault: Vault | null = null;
  let ledger: LedgerNode | null = null;
  try {
    if (options.api !== undefined) {
      vault = Vault.open({
        path: join(options.dataDir, VAULT_DB_FILE),
        masterKey: loadOrCreateMasterKey(options.dataDir),
      });
    }
    const store = new SqliteLedgerStore(db, genesis);
    const configured = new Set((options.peers ?? []).map(nodeDidOfAddress));
    network = await createNetwork({
      seed: options.nodeSecretKey,
      chainId: genesis.chain,
      isAllowedPeer: (publicKey) => isAllowedNode(store, ledger, configured, publicKeyToDid(publicKey)),
      ...(options.listen === undefined ? {} : { listen: options.listen }),
      ...(options.peers === undefined ? {} : { peers: options.peers }),
      logger,
      metrics: networkMetrics,
      ...(options.faults === undefined ? {} : { faults: options.faults }),
    });
    ledger = new LedgerNode({
      genesis,
      signer: nodeSigner(options.nodeSecretKey),
      verifier: nodeVerifier,
      store,
      transport: libp2pTransport(network, logger, networkMetrics),
      logger,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      ...(options.tickMs === undefined ? {} : { tickMs: options.tickMs }),
      ...(options.electionTicks === undefined ? {} : { electionTicks: options.electionTicks }),
      ...(options.heartbeatTicks === undefined ? {} : { heartbeatTicks: options.heartbeatTicks }),
    });
    const started = network;
    const held = vault;
    ledger.onBlock((committed) => {
      if (committed.outcome.events.some((event) => event.type === "membership")) {
        started.revalidatePeers().catch(() => undefined);
      }
      if (held !== null) eraseHeldRecords(held, committed.outcome.events, store, ledger?.id ?? "", logger);
    });
    await network.start();
    ledger.start();
    const parts = { ledger, network, db, vault, metrics };
    let api: RunningApi | null = null;
    if (options.api !== undefined) {
      api = await startApi(
        { id: ledger.id, ledger, network, db },
        {
          host: options.api.host,
          port: options.api.port,
          adminToken: options.api.adminToken ?? loadOrCreateAdminToken(options.dataDir),
          ...(options.api.rateLimit === undefined ? {} : { rateLimit: options.api.rateLimit }),
          vault,
          logger,
          registry: metrics,
          ...(options.clock === undefined ? {} : { now: () => (options.clock as Clock).now() }),
        },
      );
    }
    return assemble({ ...parts, api });
  } catch (error) {
    ledger?.stop();
    await network?.stop().catch(() => undefined);
    vault?.close();
    db.close();
    throw error;
  }
}

function assemble(parts: {
  ledger: LedgerNode;
  network: Network;
  db: ChainDb;
  vault: Vault | null;
  metrics: Registry;
  api: RunningApi | null;
}): MedledgerNode {
  let stopped: Promise<void> | null = null;
  return {
    id: parts.ledger.id,
    ledger: parts.ledger,
    network: parts.network,
    db: parts.db,
    vault: parts.vault,
    apiUrl: parts.api?.url ?? null,
    metrics: parts.metrics,
    addresses: () => parts.network.addresses(),
    stop: () => {
      stopped ??= (async () => {
        await parts.api?.close().catch(() => undefined);
        parts.ledger.stop();
        await parts.network.stop();
        parts.vault?.close();
        parts.db.close();
      })();
      return stopped;
    },
  };
}

/** Erases from the vault every record a committed record.erase names whose holder is this node's member. */
function eraseHeldRecords(
  vault: Vault,
  events: readonly LedgerEvent[],
  store: SqliteLedgerStore,
  nodeId: string,
  logger: Logger,
): void {
  const member = store.state.getIdentity(nodeId)?.member ?? null;
  for (const event of events) {
    if (event.type !== "record-erased" || member === null || event.holder !== member) continue;
    try {
      vault.erase(event.record);
    } catch (error) {
      // The ledger already says "erased": reads answer 410 from the state; the next erase retries.
      logger.error("a vault erasure failed", {
        record: event.record,
        reason: error instanceof Error ? error.message : String(error),
      });
    }
  }
}

/**
 * Whether a peer may connect: an active node of a current member in our state; a node of the Raft
 * configuration (a learner being admitted is there before our state may know it); or a peer the
 * operator configured, unless our state knows it as a node that was unbound (a removed member's).
 * The last lets a node that is still catching up reach peers admitted after its state's height.
 */
function isAllowedNode(
  store: SqliteLedgerStore,
  ledger: LedgerNode | null,
  configured: ReadonlySet<string>,
  did: string,
): boolean {
  const identity = store.state.getIdentity(did);
  if (identity !== null && identity.role === "node")
    return identity.status === "active" || inRaft(ledger, did);
  if (inRaft(ledger, did)) return true;
  return identity === null && configured.has(did);
}

function inRaft(ledger: LedgerNode | null, did: string): boolean {
  if (ledger === null) return false;
  const { voters, learners } = ledger.status();
  return voters.includes(did) || learners.includes(did);
}

/** The node DID named by a multiaddr's /p2p/ peer id (options were validated by the network). */
function nodeDidOfAddress(address: string): string {
  const peer = address.split("/p2p/")[1] ?? "";
  try {
    return publicKeyToDid(publicKeyFromPeerId(peer));
  } catch {
    return "";
  }
}
