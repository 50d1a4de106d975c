// Goal: no input makes a decoder of this package throw anything but a ProtocolError (a TypeError or
// RangeError from deep inside would be a crash path for a node). Method: fast-check feeds random
// bytes, mutated valid encodings and random JSON values into every decoder and parser.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  blockFromJson,
  blockHeaderFromJson,
  decodeBlock,
  decodeBlockHeader,
  decodeTxResult,
  encodeBlock,
  GENESIS_PREV_HASH,
  txResultFromJson,
} from "../src/block.js";
import { didToPublicKey } from "../src/did.js";
import { decodeCanonical } from "../src/encoding.js";
import { isProtocolError } from "../src/errors.js";
import { keyFileFromJson, parseKeyFile } from "../src/keys.js";
import { merkleProofFromJson } from "../src/merkle.js";
import { decodeSignedTx, encodeSignedTx, txFromJson, unsignedTxFromJson } from "../src/tx.js";
import { CHAIN, grantTx, proposer, TIME } from "./fixtures.js";

const validTx = encodeSignedTx(grantTx());
const validBlock = encodeBlock({
  header: {
    v: 1,
    chain: CHAIN,
    height: 1,
    prev: GENESIS_PREV_HASH,
    time: TIME,
    proposer: proposer.did,
    txRoot: new Uint8Array(32),
    resultRoot: new Uint8Array(32),
    appHash: new Uint8Array(32),
    raftTerm: 1,
    raftIndex: 1,
  },
  sig: new Uint8Array(64),
  txs: [grantTx()],
  results: [{ status: "ok", code: "ok" }],
});

const byteDecoders: [string, (bytes: Uint8Array) => unknown][] = [
  ["decodeCanonical", (bytes) => decodeCanonical(bytes, { bytesMax: 1 << 16 })],
  ["decodeSignedTx", decodeSignedTx],
  ["decodeBlock", decodeBlock],
  ["decodeBlockHeader", decodeBlockHeader],
  ["decodeTxResult", decodeTxResult],
  ["parseKeyFile", parseKeyFile],
];

const jsonParsers: [string, (json: unknown) => unknown][] = [
  ["txFromJson", txFromJson],
  ["unsignedTxFromJson", (json) => unsignedTxFromJson(json)],
  ["blockFromJson", blockFromJson],
  ["blockHeaderFromJson", (json) => blockHeaderFromJson(json)],
  ["txResultFromJson", (json) => txResultFromJson(json)],
  ["merkleProofFromJson", merkleProofFromJson],
  ["keyFileFromJson", keyFileFromJson],
  ["didToPublicKey", (json) => didToPublicKey(json)],
];

function mutated(valid: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.tuple(fc.nat(valid.length - 1), fc.nat(255)).map(([at, byte]) => {
      const out = valid.slice();
      out[at] = byte;
      return out;
    }),
    fc.nat(valid.length).map((length) => valid.slice(0, length)),
    fc.tuple(fc.nat(valid.length), fc.uint8Array({ maxLength: 4 })).map(([at, extra]) => {
      const out = new Uint8Array(valid.length + extra.length);
      out.set(valid.subarray(0, at), 0);
      out.set(extra, at);
      out.set(valid.subarray(at), at + extra.length);
      return out;
    }),
  );
}

function onlyProtocolErrors(action: () => unknown): void {
  try {
    action();
  } catch (error) {
    expect(isProtocolError(error), `untyped error: ${String(error)}`).toBe(true);
  }
}

describe("every decoder: success or ProtocolError", () => {
  for (const [name, decoder] of byteDecoders) {
    it(`${name} on random and mutated bytes (property)`, () => {
      fc.assert(
        fc.property(
          fc.oneof(fc.uint8Array({ maxLength: 200 }), mutated(validTx), mutated(validBlock)),
          (bytes) => onlyProtocolErrors(() => decoder(bytes)),
        ),
        { numRuns: 400 },
      );
    });
  }

  for (const [name, parser] of jsonParsers) {
    it(`${name} on random JSON values (property)`, () => {
      fc.assert(
        fc.property(fc.jsonValue({ maxDepth: 4 }), (json) => onlyProtocolErrors(() => parser(json))),
        { numRuns: 300 },
      );
    });
  }
});
