// Goal: every Raft frame from a peer is decoded defensively: round trips are exact, and junk, wrong
// shapes and out-of-bound fields fail with WIRE_INVALID, never with another error.
// Method: examples plus fast-check properties over messages and random bytes.
import { type Entry, type Message, message } from "@medledger/consensus";
import { decode, encode } from "cborg";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isNodeError } from "../src/errors.js";
import { decodeRaftMessage, encodeRaftMessage } from "../src/ledger/wire.js";

const TYPES = [
  "preVote",
  "preVoteResp",
  "vote",
  "voteResp",
  "app",
  "appResp",
  "heartbeat",
  "heartbeatResp",
  "timeoutNow",
  "readIndex",
  "readIndexResp",
] as const;

const arbitraryMessage: fc.Arbitrary<Message> = fc
  .record({
    type: fc.constantFrom(...TYPES),
    from: fc.string({ minLength: 1, maxLength: 60 }),
    to: fc.string({ minLength: 1, maxLength: 60 }),
    term: fc.nat(),
    logTerm: fc.nat(),
    index: fc.nat({ max: 1_000_000 }),
    commit: fc.nat(),
    reject: fc.boolean(),
    rejectHint: fc.nat(),
    context: fc.string({ maxLength: 40 }),
    transfer: fc.boolean(),
    entries: fc.array(
      fc.record({ type: fc.constantFrom("normal", "confChange"), data: fc.uint8Array({ maxLength: 64 }) }),
      {
        maxLength: 5,
      },
    ),
  })
  .map((fields) => {
    const entries: Entry[] =
      fields.type === "app"
        ? fields.entries.map((entry, offset) => ({
            term: fields.term,
            index: fields.index + 1 + offset,
            type: entry.type as Entry["type"],
            data: entry.data,
          }))
        : [];
    return message({ ...fields, logTerm: Math.min(fields.logTerm, fields.term), entries });
  });

function expectWireInvalid(run: () => unknown): void {
  try {
    run();
  } catch (error) {
    expect(isNodeError(error) && error.code === "WIRE_INVALID", String(error)).toBe(true);
    return;
  }
  throw new Error("expected WIRE_INVALID");
}

describe("Raft wire codec", () => {
  it("round-trips every message exactly (property)", () => {
    fc.assert(
      fc.property(arbitraryMessage, (m) => {
        expect(decodeRaftMessage(encodeRaftMessage(m))).toEqual(m);
      }),
    );
  });

  it("round-trips a snapshot message", () => {
    const m = message({
      type: "snap",
      from: "a",
      to: "b",
      term: 3,
      snapshot: {
        metadata: { index: 9, term: 2, confState: { voters: ["a", "b"], learners: ["c"] } },
        data: new Uint8Array([1, 2]),
      },
    });
    expect(decodeRaftMessage(encodeRaftMessage(m))).toEqual(m);
  });

  it("answers random bytes with WIRE_INVALID or a valid message, nothing else (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeRaftMessage(bytes);
        } catch (error) {
          expect(isNodeError(error) && error.code === "WIRE_INVALID", String(error)).toBe(true);
        }
      }),
    );
  });

  it("refuses wrong versions, types, field types and bounds", () => {
    const good = encodeRaftMessage(message({ type: "heartbeat", from: "a", to: "b", term: 1 }));
    const fields = decode(good) as unknown[];
    const variants: Array<[number, unknown]> = [
      [0, 2],
      [1, 99],
      [2, 5],
      [2, "x".repeat(200)],
      [4, -1],
      [4, 1.5],
      [4, 2 ** 60],
      [7, "entries"],
      [9, 0],
      [11, [1, 2]],
      [12, "c".repeat(300)],
    ];
    for (const [index, value] of variants) {
      const copy = fields.slice();
      copy[index] = value;
      expectWireInvalid(() => decodeRaftMessage(encode(copy)));
    }
    expectWireInvalid(() => decodeRaftMessage(encode(fields.slice(0, 13))));
    expectWireInvalid(() => decodeRaftMessage(new Uint8Array([0xff])));
  });

  it("refuses appended entries that do not follow the message's index or order their terms", () => {
    const entry = (index: number, term: number): Entry => ({
      index,
      term,
      type: "normal",
      data: new Uint8Array(),
    });
    const base = { type: "app", from: "a", to: "b", term: 5, index: 10, logTerm: 4 } as const;
    const roundTrip = (m: Message) => decodeRaftMessage(encodeRaftMessage(m));
    expect(() => roundTrip(message({ ...base, entries: [entry(11, 4), entry(12, 5)] }))).not.toThrow();
    expectWireInvalid(() => roundTrip(message({ ...base, entries: [entry(12, 5)] })));
    expectWireInvalid(() => roundTrip(message({ ...base, entries: [entry(11, 6)] })));
    expectWireInvalid(() => roundTrip(message({ ...base, entries: [entry(11, 5), entry(12, 4)] })));
    expectWireInvalid(() =>
      roundTrip(message({ type: "heartbeat", from: "a", to: "b", term: 1, entries: [entry(1, 1)] })),
    );
    expectWireInvalid(() => roundTrip(message({ type: "snap", from: "a", to: "b", term: 1 })));
  });
});
