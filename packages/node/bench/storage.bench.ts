// Goal: measure the chain database on this machine: Raft persist (one transaction and one fsync per
// Ready) at 1, 100 and 1,000 entries per Ready; applying a committed block of 1,000 transactions (rules,
// block, transactions, results and tip in one transaction); an audit page query on 100,000 rows.
// Method: vitest bench over real files (WAL, synchronous=FULL) in a temporary directory. Entries/s and
// txs/s are the reported ops/s times the batch size.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootstrapSnapshot, type Entry } from "@medledger/consensus";
import { applyBlock, type Block, encodeBlock, type Hash } from "@medledger/protocol";
import { afterAll, bench, describe } from "vitest";
import { did, hashOf, type Tx } from "../../protocol/test/rules-fixtures.js";
import { type ChainDb, openChainDb, type SqliteRaftStorage } from "../src/storage/index.js";
import { accessTxs, clinicTxs, commitBlock, genesisInto } from "../test/fixtures/storage-chain.js";

const dir = mkdtempSync(join(tmpdir(), "medledger-bench-"));
const entry_bytes = 300;
const block_txs = 1000;
const blocks_prepared = 14;
const audit_rows = 100_000;
const audit_patients = 100;
const audit_page_rows = 50;

afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Raft persist -------------------------------------------------------------------------------------

const raftDb = openChainDb({ path: join(dir, "raft.db") });
const raft: SqliteRaftStorage = raftDb.raftStorage({
  bootstrap: bootstrapSnapshot({ voters: ["a"], learners: [] }),
});
const payload = new Uint8Array(entry_bytes).fill(7);

function persistBatch(size: number): void {
  const first = raft.lastIndex() + 1;
  const entries: Entry[] = Array.from({ length: size }, (_, i) => ({
    index: first + i,
    term: 1,
    type: "normal",
    data: payload,
  }));
  raft.persist({ entries, hardState: { term: 1, vote: "a", commit: first + size - 1 } });
}

describe("raft persist (one fsync per Ready)", () => {
  for (const size of [1, 100, 1000]) {
    bench(`${size} entries of ${entry_bytes} B per Ready`, () => persistBatch(size), {
      time: 1500,
      warmupIterations: 2,
    });
  }
});

// Applying committed blocks --------------------------------------------------------------------------

/** Blocks of 1,000 access logs built on one database, to be applied on a twin with the same history. */
function prepareBlocks(): { twin: ChainDb; blocks: Array<{ block: Block; txs: Tx[]; prev: Hash }> } {
  const builder = openChainDb({ path: join(dir, "builder.db") });
  const twin = openChainDb({ path: join(dir, "apply.db") });
  genesisInto(builder);
  genesisInto(twin);
  let raftIndex = 1;
  for (const txs of clinicTxs(builder.state.getChain()?.time ?? 0)) {
    commitBlock(builder, txs, { raftIndex });
    commitBlock(twin, txs, { raftIndex: raftIndex++ });
  }
  const blocks: Array<{ block: Block; txs: Tx[]; prev: Hash }> = [];
  for (let i = 0; i < blocks_prepared; i++) {
    const prev = builder.blocks.tip()?.appHash ?? new Uint8Array(32);
    const time = (builder.state.getChain()?.time ?? 0) + 1000;
    const txs = accessTxs(time, block_txs, 10_000 * (i + 1));
    const block = commitBlock(builder, txs, { raftIndex: raftIndex++ });
    blocks.push({ block, txs, prev });
  }
  builder.close();
  return { twin, blocks };
}

const prepared = prepareBlocks();
let next_block = 0;

describe("apply a committed block", () => {
  bench(
    `block of ${block_txs} access logs (rules + block + txs + tip, one transaction)`,
    () => {
      const item = prepared.blocks[next_block++];
      if (item === undefined) throw new Error("out of prepared blocks");
      const { block, txs, prev } = item;
      const outcome = prepared.twin.blocks.applyCommittedBlock({
        block,
        encoded: encodeBlock(block),
        raftIndex: block.header.raftIndex,
        ids: txs.map((tx) => tx.id),
        apply: (store) =>
          applyBlock(store, {
            chain: block.header.chain,
            height: block.header.height,
            time: block.header.time,
            prevAppHash: prev,
            txs,
          }),
      });
      if (!outcome.applied) throw new Error("skipped");
    },
    { iterations: 8, warmupIterations: 1, time: 0, warmupTime: 0 },
  );
});

// Audit page query -----------------------------------------------------------------------------------

const auditDb = openChainDb({ path: join(dir, "audit.db") });
const patients = Array.from({ length: audit_patients }, (_, i) => did(`bench-patient-${i}`));
auditDb.sqlite.transaction(() => {
  for (let i = 0; i < audit_rows; i++) {
    auditDb.state.putAudit({
      tx: hashOf(`bench-${i}`),
      height: 1 + Math.floor(i / 1000),
      txIndex: i % 1000,
      time: i,
      provider: did("p0"),
      patient: patients[i % audit_patients] as string,
      category: "labs",
      record: null,
      purpose: "TREAT",
      decision: "permitted",
      code: "consent",
      cites: hashOf("consent"),
      flagged: false,
    });
  }
})();
auditDb.sqlite.exec("ANALYZE");
let query = 0;

describe(`audit trail page on ${audit_rows} rows`, () => {
  bench(`page of ${audit_page_rows} from a random cursor`, () => {
    query++;
    const patient = patients[query % audit_patients] as string;
    const height = 1 + ((Math.imul(query, 2654435761) >>> 0) % 100);
    const page = auditDb.state.auditOfPatient(patient, {
      after: { height, txIndex: 0 },
      limit: audit_page_rows,
    });
    if (page.items.length === 0 && height < 99) throw new Error("empty page");
  });
});
