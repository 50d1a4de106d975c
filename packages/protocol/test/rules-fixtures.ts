// Test fixtures for the rules: deterministic did:keys by name, SignedTx objects built directly (the
// rules do not verify signatures, so any 64-byte sig does), and a small chain driver over a store.
import * as ed from "@noble/ed25519";
import { sha512 } from "@noble/hashes/sha2.js";
import { sha256, utf8 } from "../src/bytes.js";
import { publicKeyToDid } from "../src/did.js";
import type { Genesis } from "../src/genesis.js";
import { applyBlock, applyGenesis, type BlockOutcome } from "../src/rules.js";
import { MemoryStateStore, type StateStore } from "../src/state.js";
import type { Did, Hash, SignedTx, TxBodies, TxKind, TxResult } from "../src/types.js";

ed.hashes.sha512 = sha512;

const didCache = new Map<string, Did>();

/** A real ed25519 did:key derived from `name` (the same name gives the same DID). */
export function did(name: string): Did {
  const cached = didCache.get(name);
  if (cached !== undefined) return cached;
  const made = publicKeyToDid(ed.getPublicKey(sha256(utf8(`seed:${name}`))));
  didCache.set(name, made);
  return made;
}

/** A 32-byte hash derived from `name`. */
export function hashOf(name: string): Hash {
  return sha256(utf8(name));
}

export const CHAIN = "test-chain";
export const T0 = 1_700_000_000_000;
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** Options of one transaction: who else signs, with which keys, and envelope overrides. */
export interface TxOptions {
  /** The key the signer signs with (default: the signer's DID). */
  key?: Did;
  /** Co-signers after the signer: [signer, key]. */
  cosigners?: Array<[Did, Did]>;
  chain?: string;
  expires?: number;
  nonce?: number;
}

/** A transaction ready for a block. */
export interface Tx {
  signed: SignedTx;
  id: Hash;
}

let txCounter = 0;
let idCounter = 0;

/** Builds a SignedTx of `kind` by `signer`; its id is unique per call (deterministic per run order). */
export function makeTx<K extends TxKind>(
  time: number,
  kind: K,
  signer: Did,
  body: TxBodies[K],
  options: TxOptions = {},
): Tx {
  const nonce = options.nonce ?? txCounter++;
  const signed: SignedTx = {
    tx: {
      v: 1,
      chain: options.chain ?? CHAIN,
      kind,
      signer,
      nonce,
      expires: options.expires ?? time + 10 * 60_000,
      body,
    } as SignedTx["tx"],
    sigs: [
      { signer, key: options.key ?? signer, sig: new Uint8Array(64) },
      ...(options.cosigners ?? []).map(([cosigner, key]) => ({
        signer: cosigner,
        key,
        sig: new Uint8Array(64),
      })),
    ],
  };
  return { signed, id: sha256(utf8(`tx:${idCounter++}:${kind}:${signer}:${nonce}`)) };
}

/** A genesis with `members` founders named m0, m1, ... each with one node. */
export function genesisOf(members: number): Genesis {
  return {
    chain: CHAIN,
    time: T0,
    members: Array.from({ length: members }, (_, index) => ({
      member: did(`m${index}`),
      nodes: [did(`m${index}-node`)],
    })),
  };
}

/** A chain driver: genesis applied to a store, then blocks of transactions one after another. */
export class TestChain {
  readonly store: StateStore;
  height = 0;
  time = T0;
  appHash: Hash;

  constructor(genesis: Genesis = genesisOf(1), store: StateStore = new MemoryStateStore()) {
    this.store = store;
    this.appHash = applyGenesis(store, genesis).appHash;
  }

  /** A transaction valid at the chain's current time. */
  tx<K extends TxKind>(kind: K, signer: Did, body: TxBodies[K], options: TxOptions = {}): Tx {
    return makeTx(this.time, kind, signer, body, options);
  }

  /** Applies a block of `txs` at the current time plus `advanceMs`. */
  block(txs: Tx[], advanceMs = 1000): BlockOutcome {
    this.time += advanceMs;
    this.height += 1;
    const outcome = applyBlock(this.store, {
      chain: CHAIN,
      height: this.height,
      time: this.time,
      prevAppHash: this.appHash,
      txs: txs.map(({ signed, id }) => ({ signed, id })),
    });
    this.appHash = outcome.appHash;
    return outcome;
  }

  /** Applies one transaction in its own block and returns its result. */
  run(tx: Tx, advanceMs = 1000): TxResult {
    const result = this.block([tx], advanceMs).results[0];
    if (result === undefined) throw new Error("no result");
    return result;
  }

  /** Moves the clock without a transaction (an empty block). */
  advance(ms: number): void {
    this.block([], ms);
  }
}

/** A chain with member m0, its provider p0 (and p1 of the same member) and a registered patient. */
export function clinic(): { chain: TestChain; member: Did; provider: Did; other: Did; patient: Did } {
  const chain = new TestChain();
  const member = did("m0");
  const provider = did("p0");
  const other = did("p1");
  const patient = did("patient");
  const results = chain.block([
    chain.tx("provider.register", member, { provider, licenseHash: hashOf("licence p0") }),
    chain.tx("provider.register", member, { provider: other, licenseHash: hashOf("licence p1") }),
    chain.tx("patient.register", patient, {}),
  ]).results;
  for (const result of results) if (result.status !== "ok") throw new Error(`setup failed: ${result.code}`);
  return { chain, member, provider, other, patient };
}
