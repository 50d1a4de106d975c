/**
 * Goal: check, message by message, the statements of the Raft paper (Ongaro & Ousterhout 2014,
 * Figure 3 and §5) and of Ongaro's thesis that the core implements. Method: single Raft nodes over
 * MemoryStorage, stepped by hand; each test names the statement it checks.
 */
import { describe, expect, it } from "vitest";
import type { Message, Raft } from "../src/index.js";
import { bootstrapSnapshot, MemoryStorage, message, RawNode, raftConfig } from "../src/index.js";
import { formatViolation, runSeeds } from "../src/sim/index.js";
import { newRaft } from "./helpers.js";

function take(raft: Raft): Message[] {
  const all = [...raft.messages, ...raft.messagesAfterPersist];
  raft.messages = [];
  raft.messagesAfterPersist = [];
  return all;
}

/** Does what the driver does with a Ready's entries and hard state: write them, then acknowledge. */
function persist(raft: Raft): void {
  const storage = raft.log.storage as MemoryStorage;
  const entries = raft.log.unstable.entries;
  const last = entries[entries.length - 1];
  storage.append(entries);
  storage.setHardState(raft.hardState());
  raft.onPersisted(0, last === undefined ? null : { index: last.index, term: last.term });
}

function entry(term: number, index: number, data = "") {
  return { term, index, type: "normal" as const, data: new TextEncoder().encode(data) };
}

/** Makes `raft` the leader of term 1 in a 3-voter cluster, with n2 and n3 granting votes. */
function electLeader(raft: Raft): void {
  raft.campaignNow();
  take(raft);
  raft.step(message({ type: "preVoteResp", from: "n2", to: raft.id, term: raft.term + 1 }));
  take(raft);
  raft.step(message({ type: "voteResp", from: "n2", to: raft.id, term: raft.term }));
}

describe("Election Safety: at most one leader can be elected in a given term. §5.2", () => {
  it("a node grants at most one vote per term", () => {
    const raft = newRaft("n1", ["n1", "n2", "n3"], { preVote: false });
    raft.step(message({ type: "vote", from: "n2", to: "n1", term: 1 }));
    raft.step(message({ type: "vote", from: "n3", to: "n1", term: 1 }));
    const responses = take(raft);
    expect(responses.map((m) => [m.to, m.reject])).toEqual([
      ["n2", false],
      ["n3", true],
    ]);
    expect(raft.vote).toBe("n2");
  });

  it("the vote is part of the hard state, persisted before the response may leave (§5.1)", () => {
    const raft = newRaft("n1", ["n1", "n2", "n3"], { preVote: false });
    raft.step(message({ type: "vote", from: "n2", to: "n1", term: 1 }));
    expect(raft.hardState()).toEqual({ term: 1, vote: "n2", commit: 0 });
    expect(raft.messages).toEqual([]);
    expect(raft.messagesAfterPersist.map((m) => m.type)).toEqual(["voteResp"]);
  });

  it("a candidate needs votes from a majority of voters", () => {
    const raft = newRaft("n1", ["n1", "n2", "n3", "n4", "n5"], { preVote: false });
    raft.campaignNow();
    raft.step(message({ type: "voteResp", from: "n2", to: "n1", term: 1 }));
    expect(raft.role).toBe("candidate");
    raft.step(message({ type: "voteResp", from: "n2", to: "n1", term: 1 }));
    expect(raft.role).toBe("candidate");
    raft.step(message({ type: "voteResp", from: "n3", to: "n1", term: 1 }));
    expect(raft.role).toBe("leader");
  });
});

describe("Election restriction: the voter denies its vote if its own log is more up-to-date than that of the candidate. §5.4.1", () => {
  it("rejects a candidate whose last term is lower, or equal with a shorter log", () => {
    const storage = new MemoryStorage(bootstrapSnapshot({ voters: ["n1", "n2", "n3"], learners: [] }));
    storage.append([entry(1, 1), entry(2, 2)]);
    storage.setHardState({ term: 2, vote: "", commit: 0 });
    const raft = new RawNode({ config: raftConfig({ id: "n1", seed: 1, preVote: false }), storage }).raft;
    raft.step(message({ type: "vote", from: "n2", to: "n1", term: 3, index: 5, logTerm: 1 }));
    raft.step(message({ type: "vote", from: "n3", to: "n1", term: 4, index: 1, logTerm: 2 }));
    expect(take(raft).map((m) => m.reject)).toEqual([true, true]);
    raft.step(message({ type: "vote", from: "n3", to: "n1", term: 5, index: 2, logTerm: 2 }));
    expect(take(raft).map((m) => m.reject)).toEqual([false]);
  });
});

describe("Log Matching: if two logs contain an entry with the same index and term, then the logs are identical in all entries up through the given index. §5.3", () => {
  it("a follower rejects an append whose previous entry's term differs, with a hint", () => {
    const raft = newRaft("n2", ["n1", "n2", "n3"]);
    raft.step(
      message({ type: "app", from: "n1", to: "n2", term: 2, index: 0, logTerm: 0, entries: [entry(1, 1)] }),
    );
    take(raft);
    raft.step(
      message({ type: "app", from: "n1", to: "n2", term: 2, index: 1, logTerm: 2, entries: [entry(2, 2)] }),
    );
    const [response] = take(raft);
    expect(response).toMatchObject({ type: "appResp", reject: true, index: 1, rejectHint: 1 });
    expect(raft.log.lastIndex()).toBe(1);
  });

  it("a conflicting suffix is replaced by the leader's entries", () => {
    const raft = newRaft("n2", ["n1", "n2", "n3"]);
    const entries = [entry(1, 1), entry(1, 2, "old"), entry(1, 3, "old")];
    raft.step(message({ type: "app", from: "n1", to: "n2", term: 1, index: 0, logTerm: 0, entries }));
    raft.step(
      message({
        type: "app",
        from: "n3",
        to: "n2",
        term: 2,
        index: 1,
        logTerm: 1,
        entries: [entry(2, 2, "new")],
      }),
    );
    expect(raft.log.lastIndex()).toBe(2);
    expect(raft.log.termAt(2)).toBe(2);
  });
});

describe("Leader Append-Only: a leader never overwrites or deletes entries in its log; it only appends new entries. §5.3", () => {
  it("a stale leader's append of the leader's own term is ignored, and a lower term is answered", () => {
    const raft = newRaft("n1", ["n1", "n2", "n3"]);
    electLeader(raft);
    expect(raft.role).toBe("leader");
    const before = raft.log.lastIndex();
    raft.step(
      message({ type: "app", from: "n2", to: "n1", term: 0, index: 0, logTerm: 0, entries: [entry(0, 1)] }),
    );
    expect(raft.log.lastIndex()).toBe(before);
    expect(raft.role).toBe("leader");
  });
});

describe("Leader Completeness: if a log entry is committed in a given term, then that entry will be present in the logs of the leaders for all higher-numbered terms. §5.4", () => {
  it("a leader does not commit an entry of an earlier term by counting replicas", () => {
    const storage = new MemoryStorage(bootstrapSnapshot({ voters: ["n1", "n2", "n3"], learners: [] }));
    storage.append([entry(1, 1), entry(2, 2)]);
    storage.setHardState({ term: 3, vote: "", commit: 1 });
    const raft = new RawNode({ config: raftConfig({ id: "n1", seed: 1 }), storage }).raft;
    electLeader(raft);
    expect(raft.term).toBe(4);
    // n2 acknowledges index 2 (term 2) but not yet the leader's empty entry at index 3 (term 4).
    persist(raft);
    raft.step(message({ type: "appResp", from: "n2", to: "n1", term: 4, index: 2 }));
    expect(raft.log.committed).toBe(1);
    raft.step(message({ type: "appResp", from: "n2", to: "n1", term: 4, index: 3 }));
    expect(raft.log.committed).toBe(3);
  });

  it("the leader's own entries count only once they are durable (§5.1)", () => {
    const raft = newRaft("n1", ["n1", "n2", "n3"]);
    electLeader(raft);
    raft.step(message({ type: "appResp", from: "n2", to: "n1", term: 1, index: 1 }));
    expect(raft.log.committed).toBe(0);
    persist(raft);
    expect(raft.log.committed).toBe(1);
    raft.propose(new TextEncoder().encode("x"));
    raft.step(message({ type: "appResp", from: "n2", to: "n1", term: 1, index: 2 }));
    expect(raft.log.committed).toBe(1);
    persist(raft);
    expect(raft.log.committed).toBe(2);
  });
});

describe("PreVote (thesis §9.6) and CheckQuorum (thesis §6.2)", () => {
  it("a pre-candidate does not change its term or vote", () => {
    const raft = newRaft("n1", ["n1", "n2", "n3"]);
    raft.campaignNow();
    expect(raft.role).toBe("preCandidate");
    expect(raft.term).toBe(0);
    const requests = take(raft);
    expect(requests.map((m) => [m.type, m.term])).toEqual([
      ["preVote", 1],
      ["preVote", 1],
    ]);
  });

  it("a follower that hears from its leader ignores a higher-term vote request (leader stickiness)", () => {
    const raft = newRaft("n2", ["n1", "n2", "n3"], { preVote: false });
    raft.step(message({ type: "heartbeat", from: "n1", to: "n2", term: 1 }));
    take(raft);
    raft.step(message({ type: "vote", from: "n3", to: "n2", term: 2 }));
    expect(raft.term).toBe(1);
    expect(take(raft)).toEqual([]);
    // A transfer (TimeoutNow) campaign is not disruptive and passes the lease.
    raft.step(message({ type: "vote", from: "n3", to: "n2", term: 2, transfer: true }));
    expect(raft.term).toBe(2);
  });
});

describe("Membership (thesis §4.1): single-server changes, one at a time, in effect once in the log", () => {
  it("a conf change is refused until the leader's empty entry commits, and while another is pending", () => {
    const raft = newRaft("n1", ["n1", "n2", "n3"]);
    electLeader(raft);
    expect(() => raft.proposeConfChange({ type: "addLearner", nodeId: "n4" })).toThrow(
      expect.objectContaining({ code: "CONF_CHANGE_PENDING" }),
    );
    persist(raft);
    raft.step(message({ type: "appResp", from: "n2", to: "n1", term: 1, index: 1 }));
    raft.proposeConfChange({ type: "addLearner", nodeId: "n4" });
    expect(raft.confState()).toEqual({ voters: ["n1", "n2", "n3"], learners: ["n4"] });
    expect(() => raft.proposeConfChange({ type: "addVoter", nodeId: "n4" })).toThrow(
      expect.objectContaining({ code: "CONF_CHANGE_PENDING" }),
    );
  });

  it("a follower adopts a configuration on append and reverts it when the entry is truncated", () => {
    const raft = newRaft("n2", ["n1", "n2", "n3"]);
    const change = {
      term: 1,
      index: 2,
      type: "confChange" as const,
      data: new TextEncoder().encode("removeNode:n3"),
    };
    raft.step(
      message({
        type: "app",
        from: "n1",
        to: "n2",
        term: 1,
        index: 0,
        logTerm: 0,
        entries: [entry(1, 1), change],
      }),
    );
    expect(raft.confState().voters).toEqual(["n1", "n2"]);
    raft.step(
      message({ type: "app", from: "n3", to: "n2", term: 2, index: 1, logTerm: 1, entries: [entry(2, 2)] }),
    );
    expect(raft.confState().voters).toEqual(["n1", "n2", "n3"]);
  });

  it("learners receive the log but do not vote or campaign", () => {
    const storage = new MemoryStorage(bootstrapSnapshot({ voters: ["n1"], learners: ["n2"] }));
    const learner = new RawNode({ config: raftConfig({ id: "n2", seed: 1 }), storage }).raft;
    for (let i = 0; i < 100; i++) learner.tick();
    expect(learner.role).toBe("follower");
    expect(take(learner)).toEqual([]);
  });
});

describe("ReadIndex (thesis §6.4) and leader transfer (thesis §3.10)", () => {
  it("a read is answered with the commit index once a quorum confirms leadership", () => {
    const raft = newRaft("n1", ["n1", "n2", "n3"]);
    electLeader(raft);
    persist(raft);
    raft.step(message({ type: "appResp", from: "n2", to: "n1", term: 1, index: 1 }));
    take(raft);
    raft.readIndex("r1");
    const heartbeats = take(raft).filter((m) => m.type === "heartbeat");
    expect(heartbeats.map((m) => m.context)).toEqual(["r1", "r1"]);
    expect(raft.readStates).toEqual([]);
    raft.step(message({ type: "heartbeatResp", from: "n3", to: "n1", term: 1, context: "r1" }));
    expect(raft.readStates).toEqual([{ index: 1, context: "r1" }]);
  });

  it("transfer sends TimeoutNow once the target is up to date, and blocks proposals meanwhile", () => {
    const raft = newRaft("n1", ["n1", "n2", "n3"]);
    electLeader(raft);
    take(raft);
    raft.transferLeader("n3");
    expect(() => raft.propose(new Uint8Array(1))).toThrow(
      expect.objectContaining({ code: "PROPOSAL_DROPPED" }),
    );
    raft.step(message({ type: "appResp", from: "n3", to: "n1", term: 1, index: 1 }));
    expect(take(raft).some((m) => m.type === "timeoutNow" && m.to === "n3")).toBe(true);
  });

  it("proposals to a follower fail with NOT_LEADER", () => {
    const raft = newRaft("n2", ["n1", "n2", "n3"]);
    expect(() => raft.propose(new Uint8Array(1))).toThrow(expect.objectContaining({ code: "NOT_LEADER" }));
  });
});

describe("State Machine Safety: if a server has applied a log entry at a given index to its state machine, no other server will ever apply a different log entry for the same index. §5.4.3", () => {
  it("holds on 100 simulated seeds with crashes, partitions and membership changes", () => {
    // The simulator's checker compares every applied entry and state hash across nodes (src/sim/checker.ts).
    const report = runSeeds({ firstSeed: 10_001, count: 100 });
    expect(report.failures.map(formatViolation)).toEqual([]);
    expect(report.acknowledged).toBeGreaterThan(1000);
  });
});

describe("flow control, limits and driver reports", () => {
  function leaderWithFollowers(overrides: Parameters<typeof newRaft>[2] = {}): Raft {
    const raft = newRaft("n1", ["n1", "n2", "n3"], overrides);
    electLeader(raft);
    persist(raft);
    raft.step(message({ type: "appResp", from: "n2", to: "n1", term: 1, index: 1 }));
    raft.step(message({ type: "appResp", from: "n3", to: "n1", term: 1, index: 1 }));
    take(raft);
    return raft;
  }

  it("a follower in replicate state gets at most maxInflightMsgs appends until it answers", () => {
    const raft = leaderWithFollowers({ maxInflightMsgs: 2, maxSizePerMsg: 1 });
    for (let i = 0; i < 5; i++) {
      raft.propose(new Uint8Array([i]));
      raft.flushProposals();
    }
    const toN2 = take(raft).filter((m) => m.type === "app" && m.to === "n2");
    expect(toN2.map((m) => m.entries.length)).toEqual([1, 1]);
    raft.step(message({ type: "appResp", from: "n2", to: "n1", term: 1, index: 3 }));
    expect(take(raft).filter((m) => m.type === "app" && m.to === "n2").length).toBe(2);
  });

  it("proposals beyond maxUncommittedEntriesBytes are dropped with PROPOSAL_DROPPED", () => {
    const raft = leaderWithFollowers({ maxUncommittedEntriesBytes: 100 });
    raft.propose(new Uint8Array(60));
    expect(() => raft.propose(new Uint8Array(60))).toThrow(
      expect.objectContaining({ code: "PROPOSAL_DROPPED" }),
    );
  });

  it("reportUnreachable drops a replicating follower back to probing", () => {
    const raft = leaderWithFollowers();
    expect(raft.status().progress.get("n2")?.state).toBe("replicate");
    raft.reportUnreachable("n2");
    expect(raft.status().progress.get("n2")?.state).toBe("probe");
  });

  it("a follower forwards a ReadIndex request to its leader and reports the answer", () => {
    const raft = newRaft("n2", ["n1", "n2", "n3"]);
    raft.step(message({ type: "heartbeat", from: "n1", to: "n2", term: 1 }));
    take(raft);
    raft.readIndex("r7");
    expect(take(raft)).toMatchObject([{ type: "readIndex", to: "n1", context: "r7" }]);
    raft.step(message({ type: "readIndexResp", from: "n1", to: "n2", term: 1, index: 5, context: "r7" }));
    expect(raft.readStates).toEqual([{ index: 5, context: "r7" }]);
  });

  it("a follower installs a snapshot: log, commit and configuration come from it", () => {
    const raft = newRaft("n2", ["n1", "n2", "n3"]);
    const snapshot = {
      metadata: { index: 10, term: 3, confState: { voters: ["n1", "n2", "n4"], learners: ["n3"] } },
      data: new Uint8Array([1]),
    };
    raft.step(message({ type: "snap", from: "n1", to: "n2", term: 3, snapshot }));
    expect(raft.log.committed).toBe(10);
    expect(raft.log.lastIndex()).toBe(10);
    expect(raft.confState()).toEqual({ voters: ["n1", "n2", "n4"], learners: ["n3"] });
    expect(take(raft)).toMatchObject([{ type: "appResp", index: 10, reject: false }]);
  });

  it("a snapshot the follower's log already covers commits, and acknowledges only up to its index", () => {
    const raft = newRaft("n2", ["n1", "n2", "n3"]);
    const entries = [entry(1, 1), entry(1, 2), entry(1, 3, "stale")];
    raft.step(message({ type: "app", from: "n1", to: "n2", term: 1, index: 0, logTerm: 0, entries }));
    take(raft);
    const snapshot = {
      metadata: { index: 2, term: 1, confState: raft.confState() },
      data: new Uint8Array(0),
    };
    raft.step(message({ type: "snap", from: "n3", to: "n2", term: 2, snapshot }));
    expect(raft.log.committed).toBe(2);
    expect(raft.log.lastIndex()).toBe(3);
    // Entry 3 came from term 1's leader; the term-2 leader may hold another entry there.
    expect(take(raft)).toMatchObject([{ type: "appResp", index: 2, reject: false }]);
  });

  it("a leader transfer that does not finish within an election timeout is abandoned", () => {
    const raft = leaderWithFollowers();
    raft.transferLeader("n2");
    expect(raft.leadTransferee).toBe("n2");
    for (let i = 0; i < 10; i++) raft.tick();
    expect(raft.leadTransferee).toBe("");
    expect(() => raft.propose(new Uint8Array(1))).not.toThrow();
  });
});
