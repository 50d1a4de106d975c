// Goal: consortium governance follows DESIGN.md: a change takes effect when more than half of the
// current members approve, before the deadline, and reports node-key changes for consensus.
// Method: scenarios over a chain founded by three members (m0, m1, m2), block by block.
import { describe, expect, it } from "vitest";
import { proposal_ttl_max_ms } from "../src/limits.js";
import type { LedgerEvent } from "../src/rules.js";
import { DAY, did, genesisOf, hashOf, TestChain } from "./rules-fixtures.js";

const [m0, m1, m2] = [did("m0"), did("m1"), did("m2")];

function founded(members = 3) {
  const chain = new TestChain(genesisOf(members));
  const propose = (signer: string, body: Parameters<typeof chain.tx<"member.propose">>[2]) =>
    chain.tx("member.propose", signer, body);
  const vote = (signer: string, proposal: Uint8Array, approve = true) =>
    chain.tx("member.vote", signer, { proposal, approve });
  return { chain, propose, vote, deadline: chain.time + DAY };
}

function membership(events: LedgerEvent[]): LedgerEvent[] {
  return events.filter((event) => event.type === "membership");
}

describe("governance", () => {
  it("adds a member by majority and binds its nodes", () => {
    const { chain, propose, vote, deadline } = founded();
    const [m3, n3] = [did("m3"), did("m3-node")];
    const proposal = propose(m0, { action: "add", member: m3, nodes: [n3], deadline });
    const first = chain.block([proposal]);
    expect(first.results[0]?.code).toBe("ok");
    expect(membership(first.events)).toEqual([]);
    expect(chain.store.getMember(m3)).toBeNull();
    const second = chain.block([vote(m1, proposal.id)]);
    expect(second.results[0]?.code).toBe("ok");
    expect(membership(second.events)).toEqual([
      { type: "membership", proposal: proposal.id, action: "add", member: m3, added: [n3], removed: [] },
    ]);
    expect(chain.store.getMember(m3)?.nodes).toEqual([n3]);
    expect(chain.store.getIdentity(n3)).toMatchObject({ role: "node", member: m3, status: "active" });
    expect(chain.store.countMembers()).toBe(4);
    expect(chain.run(vote(m2, proposal.id)).code).toBe("proposal-closed");
    expect(
      chain.run(chain.tx("provider.register", m3, { provider: did("p3"), licenseHash: hashOf("l") })).code,
    ).toBe("ok");
  });

  it("does not pass below a majority, nor after the deadline, and votes cannot change", () => {
    const { chain, propose, vote, deadline } = founded(4);
    const proposal = propose(m0, { action: "add", member: did("m9"), nodes: [did("m9-node")], deadline });
    chain.run(proposal);
    expect(chain.run(vote(m1, proposal.id)).code).toBe("ok");
    expect(chain.store.getMember(did("m9"))).toBeNull();
    expect(chain.run(vote(m1, proposal.id, false)).code).toBe("already-voted");
    expect(chain.run(vote(m0, proposal.id)).code).toBe("already-voted");
    expect(chain.run(vote(m2, proposal.id, false)).code).toBe("ok");
    expect(chain.store.getProposal(proposal.id)).toMatchObject({
      status: "open",
      approvals: 2,
      rejections: 1,
    });
    chain.advance(DAY);
    expect(chain.run(vote(did("m3"), proposal.id)).code).toBe("proposal-expired");
    expect(chain.store.getMember(did("m9"))).toBeNull();
  });

  it("counts a vote cast at the deadline, and lapses after it without a write", () => {
    const { chain, propose, vote } = founded(4);
    const deadline = chain.time + 2000;
    const proposal = propose(m0, { action: "add", member: did("m9"), nodes: [did("m9-node")], deadline });
    chain.run(proposal, 1000);
    expect(chain.run(vote(m1, proposal.id), 1000).code).toBe("ok"); // block time == deadline
    expect(chain.store.getProposal(proposal.id)).toMatchObject({ status: "open", approvals: 2 });
    expect(chain.run(vote(m2, proposal.id), 1).code).toBe("proposal-expired");
    expect(chain.store.getProposal(proposal.id)).toMatchObject({ status: "open", approvals: 2 });
  });

  it("passes only at a vote, against the members current at that vote (a rejection included)", () => {
    const { chain, propose, vote, deadline } = founded(4);
    const m3 = did("m3");
    const add = propose(m0, { action: "add", member: did("m9"), nodes: [did("m9-node")], deadline });
    chain.run(add);
    chain.run(vote(m1, add.id)); // 2 of 4: no majority
    const remove = propose(m0, { action: "remove", member: m3, nodes: [], deadline });
    chain.block([remove, vote(m1, remove.id), vote(m2, remove.id)]);
    expect(chain.store.countMembers()).toBe(3);
    // 2 of 3 is a majority now, but nothing passes between votes.
    expect(chain.store.getProposal(add.id)).toMatchObject({ status: "open", approvals: 2 });
    const outcome = chain.block([vote(m2, add.id, false)]);
    expect(outcome.results[0]?.code).toBe("ok");
    expect(chain.store.getProposal(add.id)).toMatchObject({ status: "passed", approvals: 2, rejections: 1 });
    expect(membership(outcome.events)).toHaveLength(1);
  });

  it("only lets members propose and vote, with a sane deadline", () => {
    const { chain, propose, vote, deadline } = founded();
    const outsider = did("outsider");
    expect(
      chain.run(propose(outsider, { action: "add", member: outsider, nodes: [did("o-node")], deadline }))
        .code,
    ).toBe("signer-not-member");
    expect(chain.run(vote(outsider, hashOf("p"))).code).toBe("signer-not-member");
    expect(chain.run(vote(m0, hashOf("p"))).code).toBe("proposal-unknown");
    const late = chain.time + 1000 + proposal_ttl_max_ms + 1;
    expect(
      chain.run(propose(m0, { action: "add", member: outsider, nodes: [did("o-node")], deadline: late }))
        .code,
    ).toBe("proposal-deadline-invalid");
    expect(chain.run(propose(m0, { action: "add", member: m1, nodes: [did("x-node")], deadline })).code).toBe(
      "member-exists",
    );
    expect(
      chain.run(propose(m0, { action: "add", member: did("m4"), nodes: [did("m1-node")], deadline })).code,
    ).toBe("key-in-use");
  });

  it("removes a member: its nodes leave, its providers can no longer act", () => {
    const { chain, propose, vote, deadline } = founded();
    const provider = did("p2");
    chain.run(chain.tx("provider.register", m2, { provider, licenseHash: hashOf("l") }));
    const proposal = propose(m0, { action: "remove", member: m2, nodes: [], deadline });
    chain.run(proposal);
    const outcome = chain.block([vote(m1, proposal.id)]);
    expect(membership(outcome.events)).toEqual([
      {
        type: "membership",
        proposal: proposal.id,
        action: "remove",
        member: m2,
        added: [],
        removed: [did("m2-node")],
      },
    ]);
    expect(chain.store.getMember(m2)).toBeNull();
    expect(chain.store.getIdentity(did("m2-node"))?.status).toBe("suspended");
    expect(
      chain.run(chain.tx("emergency.declare", provider, { patient: did("x"), reason: "r", durationMs: 1 }))
        .code,
    ).toBe("provider-member-removed");
    expect(
      chain.run(propose(m2, { action: "add", member: did("m5"), nodes: [did("m5-node")], deadline })).code,
    ).toBe("signer-not-member");
  });

  it("updates node keys, reporting added and removed nodes", () => {
    const { chain, propose, vote, deadline } = founded();
    const proposal = propose(m1, { action: "update", member: m1, nodes: [did("m1-node-b")], deadline });
    chain.run(proposal);
    const outcome = chain.block([vote(m2, proposal.id)]);
    expect(membership(outcome.events)).toEqual([
      {
        type: "membership",
        proposal: proposal.id,
        action: "update",
        member: m1,
        added: [did("m1-node-b")],
        removed: [did("m1-node")],
      },
    ]);
    expect(chain.store.getMember(m1)?.nodes).toEqual([did("m1-node-b")]);
  });

  it("never removes the last member; a single member decides alone", () => {
    const { chain, propose, deadline } = founded(1);
    expect(chain.run(propose(m0, { action: "remove", member: m0, nodes: [], deadline })).code).toBe(
      "last-member",
    );
    const outcome = chain.block([
      propose(m0, { action: "add", member: m1, nodes: [did("m1-node")], deadline }),
    ]);
    expect(outcome.results[0]?.code).toBe("ok");
    expect(membership(outcome.events)).toHaveLength(1);
    expect(chain.store.countMembers()).toBe(2);
  });

  it("rejects the passing vote when the change is no longer possible", () => {
    const { chain, propose, vote, deadline } = founded();
    const m4 = did("m4");
    const a = propose(m0, { action: "add", member: m4, nodes: [did("m4-node")], deadline });
    const b = propose(m1, { action: "add", member: m4, nodes: [did("m4-node-b")], deadline });
    chain.block([a, b]);
    expect(chain.run(vote(m1, a.id)).code).toBe("ok");
    expect(chain.store.countMembers()).toBe(4);
    expect(chain.run(vote(m0, b.id)).code).toBe("ok");
    expect(chain.run(vote(m2, b.id)).code).toBe("member-exists");
    expect(chain.store.getProposal(b.id)?.status).toBe("open");
  });

  it("reports the founders as membership events at genesis", () => {
    const { chain } = founded(2);
    expect(chain.store.listMembers().map((member) => member.did)).toEqual([m0, m1].sort());
  });
});
