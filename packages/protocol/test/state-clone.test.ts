// Goal: MemoryStateStore.clone() gives an independent copy, so a leader can execute a candidate block on
// a clone and throw it away. Method: build a clinic, clone, write to the clone, compare both stores.
import { describe, expect, it } from "vitest";
import { toHex } from "../src/bytes.js";
import { applyBlock } from "../src/rules.js";
import type { MemoryStateStore } from "../src/state.js";
import { clinic, DAY, makeTx } from "./rules-fixtures.js";

describe("MemoryStateStore.clone", () => {
  it("copies every table, and later writes to one never show in the other", () => {
    const { chain, provider, patient } = clinic();
    const store = chain.store as MemoryStateStore;
    const copy = store.clone();
    const page = { limit: 100 };
    expect(copy.getChain()).toEqual(store.getChain());
    expect(copy.getIdentity(provider)).toEqual(store.getIdentity(provider));
    expect(copy.auditOfPatient(patient, page)).toEqual(store.auditOfPatient(patient, page));

    const state = store.getChain();
    if (state === null) throw new Error("no chain");
    const grant = makeTx(state.time, "consent.grant", patient, {
      grantee: provider,
      categories: ["labs"],
      records: [],
      purposes: ["TREAT"],
      notBefore: state.time,
      expires: state.time + DAY,
    });
    const access = makeTx(state.time, "access.log", provider, {
      patient,
      category: "labs",
      purpose: "TREAT",
    });
    const outcome = applyBlock(copy, {
      chain: state.chain,
      height: state.height + 1,
      time: state.time + 1000,
      prevAppHash: state.appHash,
      txs: [grant, access],
    });
    expect(outcome.results.map((result) => result.code)).toEqual(["ok", "consent"]);
    expect(copy.consentsOfPatient(patient, page).items).toHaveLength(
      store.consentsOfPatient(patient, page).items.length + 1,
    );
    expect(copy.auditOfPatient(patient, page).items).toHaveLength(
      store.auditOfPatient(patient, page).items.length + 1,
    );
    expect(toHex(store.getChain()?.appHash ?? new Uint8Array())).toBe(toHex(state.appHash));
    expect(store.hasSeen(grant.id)).toBe(false);
    expect(copy.hasSeen(grant.id)).toBe(true);
  });
});
