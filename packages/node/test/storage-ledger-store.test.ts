// Goal: the SQLite LedgerStore commits blocks as the ledger node hands them over (with the
// transactions' encodings and the header hash, or without) and answers exactly like the memory
// store: the tip it keeps after a commit is the tip it reads back after a reopen, blocks keep their
// exact bytes and committed transactions their exact encodings and results. Method: the same
// blocks (real rules, canonical encodings, fixture signatures) committed into a MemoryLedgerStore and
// a SqliteLedgerStore over a file, every answer compared, then the file reopened.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  applyBlock,
  type Block,
  type BlockHeader,
  blockHash,
  computeResultRoot,
  computeTxRoot,
  encodeBlock,
  encodeSignedTx,
  type Genesis,
} from "@medledger/protocol";
import { afterAll, describe, expect, it } from "vitest";
import { CHAIN, did, genesisOf, makeTx, type Tx } from "../../protocol/test/rules-fixtures.js";
import { SqliteLedgerStore } from "../src/ledger/sqlite-store.js";
import { type LedgerStore, MemoryLedgerStore } from "../src/ledger/store.js";
import { openChainDb } from "../src/storage/index.js";

const dir = mkdtempSync(join(tmpdir(), "medledger-ledger-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;
const fresh = () => join(dir, `chain-${counter++}.db`);

/** What a test chain commits: the block, its bytes and the transactions. */
interface Committed {
  block: Block;
  encoded: Uint8Array;
  txs: Tx[];
  raftIndex: number;
}

/**
 * Builds the next block of `txs` on `store` (a dry run, as a leader), persists it as the next Raft
 * entry and commits it, passing the encodings and hash as the ledger node does when `parts` is set.
 */
function commitNext(store: LedgerStore, txs: Tx[], parts: boolean): Committed {
  const tip = store.tip();
  const time = tip.time + 1000;
  const raftIndex = store.raft.lastIndex() + 1;
  const input = { chain: CHAIN, height: tip.height + 1, time, prevAppHash: tip.appHash, txs };
  const outcome = store.dryRun((state) => applyBlock(state, input));
  const header: BlockHeader = {
    v: 1,
    chain: CHAIN,
    height: tip.height + 1,
    prev: tip.hash,
    time,
    proposer: did("m0-node"),
    txRoot: computeTxRoot(txs.map((tx) => tx.signed)),
    resultRoot: computeResultRoot(outcome.results),
    appHash: outcome.appHash,
    raftTerm: 1,
    raftIndex,
  };
  const block: Block = {
    header,
    sig: new Uint8Array(64),
    txs: txs.map((tx) => tx.signed),
    results: outcome.results,
  };
  const encoded = encodeBlock(block);
  store.persistRaft({
    hardState: { term: 1, vote: "", commit: raftIndex },
    entries: [{ index: raftIndex, term: 1, type: "normal", data: encoded }],
    snapshot: null,
  });
  store.commitBlock({
    block,
    encoded,
    ids: txs.map((tx) => tx.id),
    raftIndex,
    ...(parts ? { txEncodings: txs.map((tx) => encodeSignedTx(tx.signed)), hash: blockHash(header) } : {}),
    apply: (state) => applyBlock(state, input),
  });
  return { block, encoded, txs, raftIndex };
}

/** The clinic (a provider, a patient, a consent) then `blocks` blocks of `perBlock` access logs. */
function clinicChain(
  genesis: Genesis,
  blocks: number,
  perBlock: number,
): (store: LedgerStore) => Committed[] {
  const time = genesis.time;
  const setup: Tx[][] = [
    [
      makeTx(time, "provider.register", did("m0"), { provider: did("p0"), licenseHash: new Uint8Array(32) }),
      makeTx(time, "patient.register", did("pa"), {}),
      makeTx(time, "patient.register", did("pb"), {}),
    ],
    [
      makeTx(time, "consent.grant", did("pa"), {
        grantee: did("p0"),
        categories: ["labs"],
        records: [],
        purposes: ["TREAT"],
        notBefore: time,
        expires: time + 365 * 24 * 3_600_000,
      }),
    ],
  ];
  const access: Tx[][] = Array.from({ length: blocks }, (_, b) =>
    Array.from({ length: perBlock }, (_, i) =>
      makeTx(
        time + (b + 3) * 1000,
        "access.log",
        did("p0"),
        {
          patient: did(i % 3 === 0 ? "pb" : "pa"),
          category: i % 2 === 0 ? "labs" : "allergies",
          purpose: "TREAT",
        },
        { nonce: 1_000_000 + b * 1000 + i },
      ),
    ),
  );
  return (store) => [...setup, ...access].map((txs, index) => commitNext(store, txs, index % 2 === 0));
}

/** Every read a LedgerStore serves about the committed chain. */
function reads(store: LedgerStore, chain: readonly Committed[]): unknown {
  return {
    tip: store.tip(),
    blocks: chain.map((c) => store.getBlock(c.block.header.height)),
    past: store.getBlock(chain.length + 1),
    txs: chain.flatMap((c) => c.txs.map((tx) => store.getTx(tx.id))),
    absent: store.getTx(new Uint8Array(32)),
  };
}

describe("SqliteLedgerStore commits", () => {
  it("keeps the committed block's tip without reading it back, equal to the tip read after a reopen", () => {
    const genesis = genesisOf(3);
    const build = clinicChain(genesis, 4, 9);
    const memory = new MemoryLedgerStore(genesis);
    const path = fresh();
    const db = openChainDb({ path });
    const sqlite = new SqliteLedgerStore(db, genesis);
    const chainA = build(memory);
    const chainB = build(sqlite);
    expect(chainB.map((c) => c.encoded)).toEqual(chainA.map((c) => c.encoded));
    expect(sqlite.tip()).toEqual(memory.tip());
    expect(sqlite.tip().header).toEqual(chainB.at(-1)?.block.header);
    const answers = reads(sqlite, chainB);
    expect(answers).toEqual(reads(memory, chainA));
    db.close();
    const again = openChainDb({ path });
    const reopened = new SqliteLedgerStore(again, genesis);
    expect(reopened.tip()).toEqual(memory.tip());
    expect(reads(reopened, chainB)).toEqual(answers);
    again.close();
  });

  it("stores the exact bytes it was handed: blocks, transaction encodings and results", () => {
    const genesis = genesisOf(3);
    const db = openChainDb({ path: fresh() });
    const store = new SqliteLedgerStore(db, genesis);
    const chain = clinicChain(genesis, 2, 5)(store);
    for (const committed of chain) {
      const stored = store.getBlock(committed.block.header.height);
      expect(stored?.encoded).toEqual(committed.encoded);
      expect(stored?.block).toEqual(committed.block);
      committed.txs.forEach((tx, index) => {
        const found = store.getTx(tx.id);
        expect(found?.encoded).toEqual(encodeSignedTx(tx.signed));
        expect(found?.result).toEqual(committed.block.results[index]);
        expect([found?.height, found?.txIndex]).toEqual([committed.block.header.height, index]);
      });
    }
    db.close();
  });
});
