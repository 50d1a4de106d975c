/**
 * A medledger node assembled from its parts: the SQLite chain database, the libp2p network, and the
 * ledger driver. This is what the CLI starts; tests start several in one process or in many.
 * Shutdown runs in a fixed order: stop the ledger, stop the network, close the database.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Genesis, parseGenesis, publicKeyToDid } from "@medledger/protocol";
import { nodeSigner, nodeVerifier } from "@medledger/protocol/node";
import type { Clock } from "./ledger/clock.js";
import { LedgerNode } from "./ledger/ledger-node.js";
import { libp2pTransport } from "./ledger/libp2p-transport.js";
import { SqliteLedgerStore } from "./ledger/sqlite-store.js";
import { type Logger, silentLogger } from "./logger.js";
import { createNetwork, type Network } from "./network/network.js";
import type { NetworkFaults } from "./network/options.js";
import { type ChainDb, openChainDb } from "./storage/db.js";

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
}

/** A running node. */
export interface MedledgerNode {
  /** The node's DID (its Raft id). */
  readonly id: string;
  readonly ledger: LedgerNode;
  readonly network: Network;
  readonly db: ChainDb;
  /** The network's listen addresses, each ending in /p2p/<peer id>. */
  addresses(): string[];
  /** Stops the ledger and the network and closes the database. Idempotent. */
  stop(): Promise<void>;
}

/** Creates the data directory if needed, opens the node's database, starts its network and its ledger. */
export async function startNode(options: NodeOptions): Promise<MedledgerNode> {
  const genesis = parseGenesis(options.genesis);
  const logger = (options.logger ?? silentLogger).child({ module: "node" });
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const db = openChainDb({ path: join(options.dataDir, CHAIN_DB_FILE), logger });
  let network: Network | null = null;
  try {
    const store = new SqliteLedgerStore(db, genesis);
    network = await createNetwork({
      seed: options.nodeSecretKey,
      chainId: genesis.chain,
      isAllowedPeer: (publicKey) => isMemberNode(store, publicKeyToDid(publicKey)),
      ...(options.listen === undefined ? {} : { listen: options.listen }),
      ...(options.peers === undefined ? {} : { peers: options.peers }),
      logger,
      ...(options.faults === undefined ? {} : { faults: options.faults }),
    });
    const ledger = new LedgerNode({
      genesis,
      signer: nodeSigner(options.nodeSecretKey),
      verifier: nodeVerifier,
      store,
      transport: libp2pTransport(network, logger),
      logger,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      ...(options.tickMs === undefined ? {} : { tickMs: options.tickMs }),
      ...(options.electionTicks === undefined ? {} : { electionTicks: options.electionTicks }),
      ...(options.heartbeatTicks === undefined ? {} : { heartbeatTicks: options.heartbeatTicks }),
    });
    const started = network;
    ledger.onBlock((committed) => {
      if (committed.outcome.events.some((event) => event.type === "membership")) {
        started.revalidatePeers().catch(() => undefined);
      }
    });
    await network.start();
    ledger.start();
    return assemble({ ledger, network, db });
  } catch (error) {
    await network?.stop().catch(() => undefined);
    db.close();
    throw error;
  }
}

function assemble(parts: { ledger: LedgerNode; network: Network; db: ChainDb }): MedledgerNode {
  let stopped: Promise<void> | null = null;
  return {
    id: parts.ledger.id,
    ledger: parts.ledger,
    network: parts.network,
    db: parts.db,
    addresses: () => parts.network.addresses(),
    stop: () => {
      stopped ??= (async () => {
        parts.ledger.stop();
        await parts.network.stop();
        parts.db.close();
      })();
      return stopped;
    },
  };
}

/** True when `did` is an active node key of a current member, or in the Raft configuration being formed. */
function isMemberNode(store: SqliteLedgerStore, did: string): boolean {
  const identity = store.state.getIdentity(did);
  if (identity !== null && identity.role === "node" && identity.status === "active") return true;
  const { confState } = store.raft.initialState();
  return confState.voters.includes(did) || confState.learners.includes(did);
}
