// Goal: the LedgerNode driver turns the consensus core and the protocol rules into a replicated ledger.
// Method: in-process clusters on a ManualClock and an in-memory hub (the production driver unchanged,
// only the wire simulated): elect, commit signed transactions through every node, compare chains.
import { message } from "@medledger/consensus";
import {
  type BlockHeader,
  blockHash,
  blockSigningPayload,
  computeResultRoot,
  computeTxRoot,
  decodeSignedTxWithId,
  encodeBlock,
  encodeSignedTx,
  fromHex,
  type Genesis,
  signTx,
  toHex,
} from "@medledger/protocol";
import { encode } from "cborg";
import { afterEach, describe, expect, it } from "vitest";
import { NodeError } from "../src/errors.js";
import { ledgerLimits } from "../src/ledger/index.js";
import type { LedgerNode } from "../src/ledger/ledger-node.js";
import { SqliteLedgerStore } from "../src/ledger/sqlite-store.js";
import { MemoryLedgerStore } from "../src/ledger/store.js";
import { encodeRaftMessage } from "../src/ledger/wire.js";
import { openChainDb } from "../src/storage/db.js";
import { Cluster, signerOf } from "./ledger-harness.js";

let cluster: Cluster | null = null;
afterEach(() => {
  cluster?.stop();
  cluster = null;
});

function chainOf(node: LedgerNode): string[] {
  const status = node.status();
  return [String(status.height), status.blockHash, status.appHash];
}

describe("LedgerNode in process", () => {
  it("elects one leader among three nodes", () => {
    cluster = new Cluster(3);
    cluster.start();
    cluster.runUntil(() => cluster?.leader() !== null);
    const leader = cluster.leader();
    expect(leader).not.toBeNull();
    for (const node of cluster.nodes) expect(node.status().leader).toBe(leader?.id);
  });

  it("commits transactions submitted to every node, with identical chains everywhere", () => {
    const c = new Cluster(3);
    cluster = c;
    c.start();
    c.runUntil(() => c.leader() !== null);
    const patients = Array.from({ length: 300 }, (_, index) => signerOf(`patient-${index}`));
    const ids: string[] = [];
    patients.forEach((patient, index) => {
      const encoded = c.tx("patient.register", patient, {});
      ids.push(toHex(decodeSignedTxWithId(encoded).id));
      const outcome = (c.nodes[index % 3] as LedgerNode).submit(encoded);
      expect(outcome.status).toBe("accepted");
    });
    c.runUntil(() => c.nodes.every((node) => node.mempool.size === 0 && node.status().height > 0));
    c.runUntil(() => new Set(c.nodes.map((node) => chainOf(node).join())).size === 1);
    const first = c.nodes[0] as LedgerNode;
    for (const node of c.nodes) {
      expect(node.haltedBy).toBeNull();
      expect(chainOf(node)).toEqual(chainOf(first));
      const seen = new Set<string>();
      for (let height = 1; height <= node.status().height; height++) {
        const stored = node.committedBlock(height);
        expect(stored).not.toBeNull();
        expect(toHex(stored?.encoded ?? new Uint8Array())).toBe(
          toHex(first.committedBlock(height)?.encoded ?? new Uint8Array()),
        );
        for (const signed of stored?.block.txs ?? []) {
          const key = toHex(decodeSignedTxWithId(encodeSignedTx(signed)).id);
          expect(seen.has(key)).toBe(false);
          seen.add(key);
        }
      }
      expect([...seen].sort()).toEqual([...ids].sort());
      for (const id of ids) expect(node.committedTx(fromHex(id))?.result.code).toBe("ok");
    }
  });

  it("answers a duplicate submission idempotently", () => {
    const c = new Cluster(3);
    cluster = c;
    c.start();
    c.runUntil(() => c.leader() !== null);
    const encoded = c.tx("patient.register", signerOf("patient-x"), {});
    const node = c.nodes[1] as LedgerNode;
    expect(node.submit(encoded).status).toBe("accepted");
    expect(node.submit(encoded).status).toBe("pending");
    c.runUntil(() => c.nodes.every((n) => n.status().height === 1));
    expect(node.submit(encoded).status).toBe("committed");
  });

  it("keeps committing after the leader is isolated, and the old leader catches up when healed", () => {
    const c = new Cluster(3);
    cluster = c;
    c.start();
    c.runUntil(() => c.leader() !== null);
    const old = c.leader() as LedgerNode;
    c.hub.isolate(
      old.id,
      c.nodes.map((node) => node.id),
    );
    const others = c.nodes.filter((node) => node !== old);
    c.runUntil(() =>
      others.some((node) => node.status().role === "leader" && node.status().term > old.status().term),
    );
    const encoded = c.tx("patient.register", signerOf("patient-after"), {});
    (others[0] as LedgerNode).submit(encoded);
    c.runUntil(() => others.every((node) => node.status().height === 1));
    expect(old.status().height).toBe(0);
    c.hub.heal();
    c.runUntil(() => old.status().height === 1 && old.status().role === "follower");
    expect(chainOf(old)).toEqual(chainOf(others[0] as LedgerNode));
  });
});

describe("LedgerNode gossip", () => {
  it("offers a waiting transaction again when its first gossip was lost", () => {
    const c = new Cluster(3);
    cluster = c;
    c.start();
    c.runUntil(() => c.leader() !== null);
    const leader = c.leader() as LedgerNode;
    const follower = c.nodes.find((node) => node !== leader) as LedgerNode;
    // The follower's gossip to everyone is lost while it takes the transaction.
    for (const other of c.nodes) if (other !== follower) c.hub.cut(follower.id, other.id);
    const encoded = c.tx("patient.register", signerOf("lost-gossip"), {});
    expect(follower.submit(encoded).status).toBe("accepted");
    c.clock.advance(100);
    expect(leader.mempool.size).toBe(0);
    c.hub.heal();
    c.runUntil(() => c.nodes.every((node) => node.status().height === 1), 10_000);
    expect(c.nodes.every((node) => node.mempool.size === 0)).toBe(true);
  });
});

describe("LedgerNode blocks near the proposal limit", () => {
  it("shrinks a block whose transactions and results exceed one proposal, and commits a large burst", () => {
    // Blocks hold at most ledger_block_txs_max transactions (it bounds a leader's turn: a backlog's big
    // blocks once stalled leaders past their followers' election timeout), so these are large enough
    // that fewer than that overflow one proposal.
    const c = new Cluster(3);
    cluster = c;
    c.start();
    c.runUntil(() => c.leader() !== null);
    const leader = c.leader() as LedgerNode;
    // 1,200 consent grants of about 3 KB each (64 record ids): 512 of them overflow one proposal (1 MiB).
    const count = 1_200;
    for (let n = 0; n < count; n++) {
      const patient = signerOf(`burst-${n}`);
      leader.submit(
        c.tx("consent.grant", patient, {
          grantee: leader.id,
          categories: [
            "allergies",
            "medications",
            "problems",
            "labs",
            "imaging",
            "immunizations",
            "procedures",
          ],
          records: Array.from({ length: 64 }, (_, r) => `burst-${n}-record-${r}-${"x".repeat(16)}`),
          purposes: ["TREAT", "ETREAT", "HPAYMT", "HOPERAT", "HRESCH", "PUBHLTH"],
          notBefore: c.clock.now(),
          expires: c.clock.now() + 86_400_000,
        }),
      );
    }
    c.runUntil(() => c.nodes.every((node) => node.mempool.size === 0), 60_000);
    const heights = leader.status().height;
    let total = 0;
    let shrunk = 0;
    for (let height = 1; height <= heights; height++) {
      const stored = leader.committedBlock(height);
      expect(stored?.encoded.length ?? 0).toBeLessThanOrEqual(ledgerLimits.ledger_block_bytes_max);
      const txs = stored?.block.txs.length ?? 0;
      expect(txs).toBeLessThanOrEqual(ledgerLimits.ledger_block_txs_max);
      if (txs > 0 && txs < ledgerLimits.ledger_block_txs_max && total + txs < count) shrunk += 1;
      total += txs;
    }
    expect(total).toBe(count);
    expect(shrunk).toBeGreaterThan(0); // a block was cut below the count limit to fit one proposal
    c.runUntil(() => new Set(c.nodes.map((node) => chainOf(node).join())).size === 1);
  });
});

describe("LedgerNode membership", () => {
  it("admits a member voted in: its node joins as a learner, catches up and becomes a voter", () => {
    const c = new Cluster(3);
    cluster = c;
    c.start();
    c.runUntil(() => c.leader() !== null);
    // Some history for the newcomer to catch up on.
    for (let index = 0; index < 20; index++) {
      (c.nodes[index % 3] as LedgerNode).submit(c.tx("patient.register", signerOf(`history-${index}`), {}));
    }
    c.runUntil(() => c.nodes.every((node) => node.mempool.size === 0 && node.status().height > 0));

    const newMember = signerOf("member-new");
    const newNodeSigner = signerOf("node-new");
    const proposal = c.tx("member.propose", c.member(0), {
      action: "add",
      member: newMember.did,
      nodes: [newNodeSigner.did],
      deadline: c.clock.now() + 86_400_000,
    });
    const first = c.nodes[0] as LedgerNode;
    first.submit(proposal);
    const proposalId = decodeSignedTxWithId(proposal).id;
    c.runUntil(() => first.committedTx(proposalId) !== null);
    (c.nodes[1] as LedgerNode).submit(
      c.tx("member.vote", c.member(1), { proposal: proposalId, approve: true }),
    );
    const newcomer = c.makeNode(newNodeSigner);
    c.nodes.push(newcomer);
    newcomer.start();
    c.runUntil(() => c.nodes.every((node) => node.status().voters.includes(newNodeSigner.did)), 120_000);
    c.runUntil(() => new Set(c.nodes.map((node) => chainOf(node).join())).size === 1);
    expect(newcomer.status().learners).toEqual([]);
    // The grown cluster still commits.
    newcomer.submit(c.tx("patient.register", signerOf("after-join"), {}));
    const height = first.status().height;
    c.runUntil(() => c.nodes.every((node) => node.status().height === height + 1));
  });

  it("removes a member voted out: its node leaves the Raft configuration", () => {
    const c = new Cluster(3);
    cluster = c;
    c.start();
    c.runUntil(() => c.leader() !== null);
    const leaving = c.member(2);
    const proposal = c.tx("member.propose", c.member(0), {
      action: "remove",
      member: leaving.did,
      nodes: [],
      deadline: c.clock.now() + 86_400_000,
    });
    const first = c.nodes[0] as LedgerNode;
    first.submit(proposal);
    const proposalId = decodeSignedTxWithId(proposal).id;
    c.runUntil(() => first.committedTx(proposalId) !== null);
    first.submit(c.tx("member.vote", c.member(1), { proposal: proposalId, approve: true }));
    const removed = c.node(2).id;
    const stay = c.nodes.slice(0, 2);
    c.runUntil(() => stay.every((node) => !node.status().voters.includes(removed)), 120_000);
    stay[0]?.submit(c.tx("patient.register", signerOf("after-removal"), {}));
    const height = stay[0]?.status().height ?? 0;
    c.runUntil(() => stay.every((node) => node.status().height === height + 1));
  });
});

describe("LedgerNode after a lost data directory", () => {
  it("re-adds a member's node under a new key: it syncs from its peers and the old key leaves", () => {
    const c = new Cluster(3);
    cluster = c;
    c.start();
    c.runUntil(() => c.leader() !== null);
    for (let index = 0; index < 5; index++)
      c.node(0).submit(c.tx("patient.register", signerOf(`lost-${index}`), {}));
    c.runUntil(() => c.nodes.every((node) => node.mempool.size === 0 && node.status().height > 0));
    // Node 2 loses its disk. Restarting it empty under the same key could make it vote twice in a term,
    // so its member binds a fresh key instead, by vote.
    const lost = c.node(2);
    lost.stop();
    const replacement = signerOf("node-2-replacement");
    const proposal = c.tx("member.propose", c.member(2), {
      action: "update",
      member: c.member(2).did,
      nodes: [replacement.did],
      deadline: c.clock.now() + 86_400_000,
    });
    c.node(0).submit(proposal);
    const proposalId = decodeSignedTxWithId(proposal).id;
    c.runUntil(() => c.node(0).committedTx(proposalId) !== null);
    c.node(1).submit(c.tx("member.vote", c.member(0), { proposal: proposalId, approve: true }));
    const fresh = c.makeNode(replacement);
    c.nodes[2] = fresh;
    fresh.start();
    const live = [c.node(0), c.node(1), fresh];
    c.runUntil(
      () =>
        live.every(
          (node) => node.status().voters.join() === [c.node(0).id, c.node(1).id, fresh.id].sort().join(),
        ),
      120_000,
    );
    c.runUntil(() => new Set(live.map((node) => chainOf(node).join())).size === 1);
    fresh.submit(c.tx("patient.register", signerOf("lost-after"), {}));
    const height = c.node(0).status().height;
    c.runUntil(() => live.every((node) => node.status().height === height + 1));
    expect(lost.status().voters).toContain(lost.id); // the stopped node never learned it was removed
  });
});

describe("LedgerNode against hostile peers", () => {
  it("refuses junk, forged senders, misaddressed messages and forged blocks, and keeps committing", () => {
    const c = new Cluster(3);
    cluster = c;
    c.start();
    c.runUntil(() => c.leader() !== null);
    const leader = c.leader() as LedgerNode;
    const follower = c.nodes.find((node) => node !== leader) as LedgerNode;
    const third = c.nodes.find((node) => node !== leader && node !== follower) as LedgerNode;
    const status = follower.status();

    // Junk bytes, a message in another node's name, a message for another node.
    c.hub.inject(leader.id, follower.id, new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
    c.hub.inject(
      third.id,
      follower.id,
      encodeRaftMessage(message({ type: "heartbeat", from: leader.id, to: follower.id, term: status.term })),
    );
    c.hub.inject(
      leader.id,
      follower.id,
      encodeRaftMessage(message({ type: "heartbeat", from: leader.id, to: third.id, term: status.term })),
    );
    // A block whose proposer signature is forged, appended as if by the leader.
    const forger = signerOf("forger");
    const header: BlockHeader = {
      v: 1,
      chain: c.genesis.chain,
      height: 1,
      prev: new Uint8Array(32),
      time: c.clock.now(),
      proposer: leader.id,
      txRoot: computeTxRoot([]),
      resultRoot: computeResultRoot([]),
      appHash: new Uint8Array(32),
      raftTerm: status.term,
      raftIndex: status.commitIndex + 1,
    };
    const sig = forger.sign(blockSigningPayload(blockHash(header)));
    const forged = encodeBlock({ header, sig, txs: [], results: [] });
    c.hub.inject(
      leader.id,
      follower.id,
      encodeRaftMessage(
        message({
          type: "app",
          from: leader.id,
          to: follower.id,
          term: status.term,
          index: status.commitIndex,
          logTerm: status.term,
          commit: status.commitIndex,
          entries: [{ term: status.term, index: status.commitIndex + 1, type: "normal", data: forged }],
        }),
      ),
    );
    // A gossip payload that is not a batch, and a list without the batch's version and salt.
    c.hub.injectGossip(leader.id, follower.id, new Uint8Array([0x01]));
    c.hub.injectGossip(leader.id, follower.id, encode([new Uint8Array([1, 2, 3]), "text"]));
    c.clock.advance(50);

    const reasons = c.hub.reports
      .filter(([reporter]) => reporter === follower.id)
      .map(([, , reason]) => reason);
    expect(reasons).toHaveLength(4);
    // The two bad gossip payloads stop at the transport's check: not delivered, not relayed, no one blamed.
    expect(c.hub.gossipRejected.filter(([node]) => node === follower.id)).toHaveLength(2);
    expect(reasons.some((reason) => reason.includes("another's name"))).toBe(true);
    expect(reasons.some((reason) => reason.includes("for another node"))).toBe(true);
    expect(reasons.some((reason) => reason.includes("signature"))).toBe(true);
    expect(follower.haltedBy).toBeNull();
    expect(follower.status().height).toBe(0);

    follower.submit(c.tx("patient.register", signerOf("patient-ok"), {}));
    c.runUntil(() => c.nodes.every((node) => node.status().height === 1));
    expect(new Set(c.nodes.map((node) => chainOf(node).join())).size).toBe(1);
  });
});

describe("LedgerNode and copies of one transaction id", () => {
  for (const [name, storeOf] of [
    ["memory", (genesis: Genesis) => new MemoryLedgerStore(genesis)],
    ["sqlite", (genesis: Genesis) => new SqliteLedgerStore(openChainDb({ path: ":memory:" }), genesis)],
  ] as const) {
    it(`a copy signed with a key rotated away is rejected unconsumed; the re-signed copy commits (${name})`, () => {
      const c = new Cluster(3, storeOf);
      cluster = c;
      c.start();
      c.runUntil(() => c.leader() !== null);
      const node = c.node(0);
      const patient = signerOf("rotating-patient");
      const newKey = signerOf("rotating-patient-new-key");
      node.submit(c.tx("patient.register", patient, {}));
      c.runUntil(() => c.nodes.every((n) => n.status().height === 1));
      // The rotation and a transaction signed with the old key wait together; the rotation goes first.
      node.submit(c.tx("key.rotate", patient, { newKey: newKey.did }));
      const unsigned = c.unsigned("patient.set-emergency-scope", patient.did, { categories: ["allergies"] });
      const oldCopy = encodeSignedTx(signTx(unsigned, [patient]));
      const id = decodeSignedTxWithId(oldCopy).id;
      node.submit(oldCopy);
      c.runUntil(() => c.nodes.every((n) => n.status().height === 2));
      expect(node.committedTx(id)?.result.code).toBe("key-not-current");
      // The same transaction signed with the new key: same id, now authentic.
      const newCopy = encodeSignedTx(signTx(unsigned, [{ key: newKey, identity: patient.did }]));
      expect(decodeSignedTxWithId(newCopy).id).toEqual(id);
      expect(node.submit(newCopy).status).toBe("accepted");
      c.runUntil(() => c.nodes.every((n) => n.status().height === 3));
      for (const n of c.nodes) {
        expect(n.committedTx(id)?.result.code).toBe("ok");
        expect(n.committedTx(id)?.height).toBe(3);
      }
      expect(node.submit(newCopy).status).toBe("committed");
    });
  }
});

describe("LedgerNode leader execution", () => {
  it("the leader replays its own dry run; every node ends with the same state, row for row (SQLite)", () => {
    const stores: SqliteLedgerStore[] = [];
    const c = new Cluster(3, (genesis) => {
      const store = new SqliteLedgerStore(openChainDb({ path: ":memory:" }), genesis);
      stores.push(store);
      return store;
    });
    cluster = c;
    c.start();
    c.runUntil(() => c.leader() !== null);
    const patients = Array.from({ length: 40 }, (_, index) => signerOf(`replay-patient-${index}`));
    for (const [index, patient] of patients.entries()) {
      c.node(index % 3).submit(c.tx("patient.register", patient, {}));
    }
    c.runUntil(() => c.nodes.every((node) => node.mempool.size === 0 && node.status().height > 0));
    // Writes of several tables, some rejected (a second rotation to a used key), across several blocks.
    patients.forEach((patient, index) => {
      const node = c.node(index % 3);
      node.submit(c.tx("key.rotate", patient, { newKey: signerOf(`replay-key-${index % 30}`).did }));
      node.submit(c.tx("patient.set-emergency-scope", patient, { categories: ["allergies", "labs"] }));
      c.clock.advance(index % 4 === 0 ? 150 : 0);
    });
    c.runUntil(() => c.nodes.every((node) => node.mempool.size === 0));
    c.runUntil(() => new Set(c.nodes.map((node) => chainOf(node).join())).size === 1);
    const exportOf = (store: SqliteLedgerStore): string => {
      const exported = store.db.exportState();
      const chunks: string[] = [];
      for (let chunk = exported.next(); chunk !== null; chunk = exported.next()) chunks.push(toHex(chunk));
      exported.close();
      return chunks.join("");
    };
    const states = stores.map(exportOf);
    for (const state of states) expect(state).toBe(states[0]);
    const stats = c.nodes.map((node) => node.applyStats);
    expect(stats.reduce((sum, s) => sum + s.replayed, 0)).toBeGreaterThan(0);
    for (const [index, node] of c.nodes.entries()) {
      expect((stats[index]?.executed ?? 0) + (stats[index]?.replayed ?? 0)).toBe(node.status().height);
    }
  });
});

describe("LedgerNode snapshots", () => {
  it("compacts its log, and a member voted in later syncs from a snapshot and becomes a voter", async () => {
    const c = new Cluster(3, (genesis) => new SqliteLedgerStore(openChainDb({ path: ":memory:" }), genesis), {
      snapshotEveryEntries: 20,
    });
    cluster = c;
    c.start();
    c.runUntil(() => c.leader() !== null);
    for (let index = 0; index < 60; index++) {
      const height = c.node(0).status().height;
      c.node(index % 3).submit(c.tx("patient.register", signerOf(`snap-history-${index}`), {}));
      c.runUntil(() => c.nodes.every((node) => node.status().height === height + 1));
    }
    for (const node of c.nodes) expect(node.status().snapshotIndex).toBeGreaterThan(0);

    const newMember = signerOf("snap-member-new");
    const newNodeSigner = signerOf("snap-node-new");
    const proposal = c.tx("member.propose", c.member(0), {
      action: "add",
      member: newMember.did,
      nodes: [newNodeSigner.did],
      deadline: c.clock.now() + 86_400_000,
    });
    c.node(0).submit(proposal);
    const proposalId = decodeSignedTxWithId(proposal).id;
    c.runUntil(() => c.node(0).committedTx(proposalId) !== null);
    c.node(1).submit(c.tx("member.vote", c.member(1), { proposal: proposalId, approve: true }));
    const newcomer = c.makeNode(newNodeSigner);
    c.nodes.push(newcomer);
    newcomer.start();
    await c.runUntilAsync(
      () => c.nodes.every((node) => node.status().voters.includes(newNodeSigner.did)),
      120_000,
    );
    await c.runUntilAsync(() => new Set(c.nodes.map((node) => chainOf(node).join())).size === 1);
    expect(newcomer.status().snapshotIndex).toBeGreaterThan(0);
    // The history before the snapshot is back-filled from the peers, byte for byte.
    const top = newcomer.status().height;
    await c.runUntilAsync(() => !newcomer.backfillStats.running && newcomer.committedBlock(1) !== null);
    expect(newcomer.backfillStats.stored).toBeGreaterThan(0);
    for (let height = 1; height <= top; height++) {
      expect(newcomer.committedBlock(height)?.encoded).toEqual(c.node(0).committedBlock(height)?.encoded);
    }
    // The newcomer applies new blocks on the transferred state like everyone else.
    newcomer.submit(c.tx("patient.register", signerOf("snap-after-join"), {}));
    const height = c.node(0).status().height;
    await c.runUntilAsync(() => c.nodes.every((node) => node.status().height === height + 1));
    expect(new Set(c.nodes.map((node) => chainOf(node).join())).size).toBe(1);
  });
});

describe("LedgerNode on a full disk", () => {
  it("refuses writes while the disk is full, corrupts nothing, and resumes when space returns", () => {
    let full = false;
    const diskFull = (): never => {
      throw new NodeError("STORAGE_FULL", "database or disk is full");
    };
    let index = 0;
    const c = new Cluster(3, (genesis) => {
      const store = new MemoryLedgerStore(genesis);
      if (index++ !== 2) return store;
      // Node 2's store fails every write while `full` is set, as SQLite does with SQLITE_FULL.
      const persistRaft = store.persistRaft.bind(store);
      const commitBlock = store.commitBlock.bind(store);
      store.persistRaft = (persist) => (full ? diskFull() : persistRaft(persist));
      store.commitBlock = (commit) => (full ? diskFull() : commitBlock(commit));
      return store;
    });
    cluster = c;
    c.start();
    c.runUntil(() => c.leader() !== null);
    const victim = c.node(2);
    const others = [c.node(0), c.node(1)];
    full = true;
    for (let n = 0; n < 10; n++) others[n % 2]?.submit(c.tx("patient.register", signerOf(`disk-${n}`), {}));
    c.runUntil(() => others.every((node) => node.mempool.size === 0 && node.status().height > 0), 30_000);
    c.clock.advance(3_000);
    expect(victim.haltedBy).toBeNull();
    expect(victim.status().height).toBeLessThan(others[0]?.status().height ?? 0);
    expect(() => victim.submit(c.tx("patient.register", signerOf("disk-refused"), {}))).toThrowError(
      expect.objectContaining({ code: "STORAGE_FULL" }),
    );
    full = false;
    c.runUntil(() => new Set(c.nodes.map((node) => chainOf(node).join())).size === 1, 30_000);
    expect(victim.haltedBy).toBeNull();
    expect(victim.submit(c.tx("patient.register", signerOf("disk-after"), {})).status).toBe("accepted");
    const height = others[0]?.status().height ?? 0;
    c.runUntil(() => c.nodes.every((node) => node.status().height === height + 1), 30_000);
  });
});
