/**
 * Goal: the building blocks keep their contracts: storage errors by code, the log's unstable and
 * stable parts, flow control, the PRNG's determinism, config validation and membership rules.
 * Method: direct unit tests, one behaviour each.
 */
import { describe, expect, it } from "vitest";
import {
  applyConfChange,
  bootstrapSnapshot,
  decodeConfChange,
  encodeConfChange,
  Inflights,
  MemoryStorage,
  message,
  Prng,
  Progress,
  RaftLog,
  raftConfig,
  validateConfChange,
  validateMessage,
  validateRaftConfig,
} from "../src/index.js";

const voters3 = { voters: ["n1", "n2", "n3"], learners: [] };
const entry = (term: number, index: number, bytes = 0) => ({
  term,
  index,
  type: "normal" as const,
  data: new Uint8Array(bytes),
});

describe("MemoryStorage", () => {
  it("answers COMPACTED below the snapshot and UNAVAILABLE past the end", () => {
    const storage = new MemoryStorage(bootstrapSnapshot(voters3));
    storage.append([entry(1, 1), entry(1, 2), entry(2, 3)]);
    storage.createSnapshot(2, voters3, new Uint8Array(0));
    expect(storage.firstIndex()).toBe(3);
    expect(storage.term(2)).toBe(1);
    expect(() => storage.term(1)).toThrow(expect.objectContaining({ code: "COMPACTED" }));
    expect(() => storage.term(4)).toThrow(expect.objectContaining({ code: "UNAVAILABLE" }));
    expect(() => storage.entries(2, 4, Infinity)).toThrow(expect.objectContaining({ code: "COMPACTED" }));
    expect(() => storage.createSnapshot(1, voters3, new Uint8Array(0))).toThrow(
      expect.objectContaining({ code: "SNAPSHOT_OUT_OF_DATE" }),
    );
  });

  it("append replaces a conflicting suffix and limits entries by bytes (one at least)", () => {
    const storage = new MemoryStorage(bootstrapSnapshot(voters3));
    storage.append([entry(1, 1, 10), entry(1, 2, 10), entry(1, 3, 10)]);
    storage.append([entry(2, 2, 10)]);
    expect(storage.lastIndex()).toBe(2);
    expect(storage.term(2)).toBe(2);
    expect(storage.entries(1, 3, 1).length).toBe(1);
    expect(storage.entries(1, 3, 1000).length).toBe(2);
  });
});

describe("RaftLog", () => {
  it("reads across storage and unstable, and stableTo ignores a stale acknowledgement", () => {
    const storage = new MemoryStorage(bootstrapSnapshot(voters3));
    storage.append([entry(1, 1), entry(1, 2)]);
    const log = new RaftLog(storage);
    log.append([entry(2, 3), entry(2, 4)]);
    expect(log.slice(1, 5, Infinity).map((e) => e.index)).toEqual([1, 2, 3, 4]);
    log.unstable.stableTo(4, 1);
    expect(log.unstable.entries.length).toBe(2);
    log.append([entry(3, 4)]);
    expect(log.lastTerm()).toBe(3);
    expect(log.findConflict([entry(1, 2), entry(2, 3), entry(9, 4)])).toBe(4);
  });

  it("refuses to overwrite a committed entry (an invariant, not an input error)", () => {
    const log = new RaftLog(new MemoryStorage(bootstrapSnapshot(voters3)));
    log.append([entry(1, 1), entry(1, 2)]);
    log.commitTo(2);
    expect(() => log.append([entry(2, 2)])).toThrow(expect.objectContaining({ code: "INVARIANT" }));
    expect(() => log.commitTo(5)).toThrow(expect.objectContaining({ code: "INVARIANT" }));
  });
});

describe("flow control", () => {
  it("the in-flight window is bounded by count and by bytes", () => {
    const byCount = new Inflights(2, 1000);
    byCount.add(1, 10);
    byCount.add(2, 10);
    expect(byCount.full()).toBe(true);
    byCount.freeLE(1);
    expect(byCount.full()).toBe(false);
    const byBytes = new Inflights(100, 50);
    byBytes.add(1, 60);
    expect(byBytes.full()).toBe(true);
    byBytes.freeFirstOne();
    expect(byBytes.count()).toBe(0);
  });

  it("probe sends one append at a time; replicate streams until the window is full", () => {
    const progress = new Progress({ next: 5, isLearner: false, inflightCountMax: 2, inflightBytesMax: 1000 });
    expect(progress.isPaused()).toBe(false);
    progress.sentEntries(5, 40, 1);
    expect(progress.isPaused()).toBe(true);
    expect(progress.maybeDecreaseTo(4, 2)).toBe(true);
    expect(progress.next).toBe(3);
    progress.maybeUpdate(4);
    progress.becomeReplicate();
    progress.sentEntries(6, 40, 2);
    progress.sentEntries(8, 40, 2);
    expect(progress.isPaused()).toBe(true);
    expect(progress.next).toBe(9);
    expect(progress.maybeDecreaseTo(3, 3)).toBe(false);
  });
});

describe("Prng", () => {
  it("is deterministic per seed and stays in range", () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const drawn = Array.from({ length: 100 }, () => a.int(10, 20));
    expect(Array.from({ length: 100 }, () => b.int(10, 20))).toEqual(drawn);
    expect(Math.min(...drawn)).toBeGreaterThanOrEqual(10);
    expect(Math.max(...drawn)).toBeLessThan(20);
    expect(new Set(drawn).size).toBeGreaterThan(5);
    expect(new Prng(43).uint32()).not.toBe(new Prng(42).uint32());
  });
});

describe("config and membership validation", () => {
  it("rejects out-of-range options with CONFIG_INVALID", () => {
    expect(() => validateRaftConfig(raftConfig({ id: "n1", seed: 1 }))).not.toThrow();
    expect(() => validateRaftConfig(raftConfig({ id: "", seed: 1 }))).toThrow(
      expect.objectContaining({ code: "CONFIG_INVALID" }),
    );
    expect(() => validateRaftConfig(raftConfig({ id: "n1", seed: 1, heartbeatTicks: 10 }))).toThrow(
      expect.objectContaining({ code: "CONFIG_INVALID" }),
    );
    expect(() => validateRaftConfig(raftConfig({ id: "n1", seed: 1, maxInflightMsgs: 0 }))).toThrow(
      expect.objectContaining({ code: "CONFIG_INVALID" }),
    );
  });

  it("single-server changes: add, promote, demote, remove; invalid ones have a code", () => {
    let conf = applyConfChange(voters3, { type: "addLearner", nodeId: "n4" });
    expect(conf).toEqual({ voters: ["n1", "n2", "n3"], learners: ["n4"] });
    conf = applyConfChange(conf, { type: "addVoter", nodeId: "n4" });
    expect(conf).toEqual({ voters: ["n1", "n2", "n3", "n4"], learners: [] });
    conf = applyConfChange(conf, { type: "removeNode", nodeId: "n1" });
    expect(conf.voters).toEqual(["n2", "n3", "n4"]);
    expect(() => validateConfChange(conf, { type: "addVoter", nodeId: "n2" })).toThrow(
      expect.objectContaining({ code: "CONF_CHANGE_INVALID" }),
    );
    expect(() =>
      validateConfChange({ voters: ["n1"], learners: [] }, { type: "removeNode", nodeId: "n1" }),
    ).toThrow(expect.objectContaining({ code: "CONF_CHANGE_INVALID" }));
    const change = { type: "addLearner" as const, nodeId: "did:key:z6Mk" };
    expect(decodeConfChange(encodeConfChange(change))).toEqual(change);
  });
});

describe("validateMessage (for the driver, before step)", () => {
  it("accepts what the core sends and rejects malformed input with MESSAGE_INVALID", () => {
    const good = message({
      type: "app",
      from: "n1",
      to: "n2",
      term: 3,
      index: 4,
      logTerm: 2,
      entries: [entry(3, 5, 4), entry(3, 6)],
      commit: 4,
    });
    expect(validateMessage(good)).toEqual(good);
    const invalid = expect.objectContaining({ code: "MESSAGE_INVALID" });
    expect(() => validateMessage({ ...good, type: "bogus" })).toThrow(invalid);
    expect(() => validateMessage({ ...good, term: -1 })).toThrow(invalid);
    expect(() => validateMessage({ ...good, entries: [entry(3, 6)] })).toThrow(invalid);
    expect(() => validateMessage({ ...good, entries: [entry(4, 5)] })).toThrow(invalid);
    expect(() => validateMessage({ ...good, from: "" })).toThrow(invalid);
    expect(() => validateMessage({ ...good, type: "snap" })).toThrow(invalid);
    expect(() => validateMessage(null)).toThrow(invalid);
  });
});
