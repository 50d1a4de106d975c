// Goal: the LedgerNode driver turns the consensus core and the protocol rules into a replicated ledger.
// Method: in-process clusters on a ManualClock and an in-memory hub (the production driver unchanged,
// only the wire simulated): elect, commit signed transactions through every node, compare chains.
import { decodeSignedTxWithId, encodeSignedTx, fromHex, toHex } from "@medledger/protocol";
import { afterEach, describe, expect, it } from "vitest";
import type { LedgerNode } from "../src/ledger/ledger-node.js";
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
