/** What every route module receives: the node's parts the API reads, and the API's own services. */

import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { StateStore, Verifier } from "@medledger/protocol";
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from "fastify";
import type { LedgerNode } from "../ledger/ledger-node.js";
import type { Logger } from "../logger.js";
import type { Network } from "../network/network.js";
import type { ChainDb } from "../storage/db.js";
import type { VaultLookup, VaultRecordMeta } from "../vault/types.js";
import type { Authorizer } from "./auth.js";
import type { EventHub } from "./events.js";
import type { ApiMetrics } from "./metrics.js";

/** The Fastify instance of the API, typed by TypeBox. */
export type ApiInstance = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** The parts of a running node the API reads (a MedledgerNode has them all). */
export interface ApiNode {
  readonly id: string;
  readonly ledger: LedgerNode;
  readonly network: Pick<Network, "peers">;
  readonly db: Pick<ChainDb, "state" | "blocks">;
}

/** The part of the vault the API uses (the node's Vault). */
export interface RecordVault {
  put(meta: VaultRecordMeta, plaintext: Uint8Array): void;
  get(record: string): VaultLookup;
  discard(record: string): boolean;
}

/** What the routes share. */
export interface ApiContext {
  readonly node: ApiNode;
  readonly state: StateStore;
  readonly vault: RecordVault | null;
  readonly auth: Authorizer;
  readonly metrics: ApiMetrics;
  readonly events: EventHub;
  readonly verifier: Verifier;
  readonly logger: Logger;
  /** The node's clock, in ms since the epoch. */
  now(): number;
  /** The member this node belongs to (the holder of the records in its vault), or null. */
  member(): string | null;
}
