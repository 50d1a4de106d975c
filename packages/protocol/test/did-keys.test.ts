// Goal: did:key encoding is the W3C spelling, decoding is strict (one spelling per key, valid keys
// only), and key files parse strictly. Method: known did:key test values, hand-made malformed
// strings and files, and round-trip properties over random keys.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromHex, toHex } from "../src/bytes.js";
import {
  base58Decode,
  base58Encode,
  didToPublicKey,
  isDid,
  parseDid,
  publicKeyToDid,
  SMALL_ORDER_POINTS,
} from "../src/did.js";
import { isProtocolError } from "../src/errors.js";
import {
  encodeKeyFile,
  generateKeyPair,
  keyPairFromSecretKey,
  parseKeyFile,
  randomBytes,
} from "../src/keys.js";
import { did_cache_entries_max, key_file_bytes_max } from "../src/limits.js";

function expectCode(action: () => unknown, code: string): void {
  try {
    action();
  } catch (error) {
    expect(isProtocolError(error), String(error)).toBe(true);
    expect((error as { code: string }).code, (error as Error).message).toBe(code);
    return;
  }
  throw new Error(`expected ${code}, got success`);
}

describe("did:key", () => {
  it("decodes and re-encodes an ed25519 example of the did:key method spec to itself", () => {
    // An example DID of the W3C CCG did:key method specification (section "ed25519").
    const did = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp";
    const publicKey = didToPublicKey(did);
    expect(publicKeyToDid(publicKey)).toBe(did);
    expect(did.length).toBe(56);
  });

  it("round trips random keys and always starts with z6Mk (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (secret) => {
        const pair = keyPairFromSecretKey(secret);
        expect(pair.did.startsWith("did:key:z6Mk")).toBe(true);
        expect(toHex(didToPublicKey(pair.did))).toBe(toHex(pair.publicKey));
      }),
      { numRuns: 50 },
    );
  });

  it("base58btc round trips bytes, leading zeros included (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        expect(toHex(base58Decode(base58Encode(bytes))!)).toBe(toHex(bytes));
      }),
    );
    expect(base58Decode("0OIl")).toBeUndefined();
  });

  it("rejects everything that is not exactly an ed25519 did:key", () => {
    const good = generateKeyPair().did;
    const bad = [
      good.toUpperCase(),
      good.replace("did:key:z", "did:key:f"),
      `${good}1`,
      good.slice(0, -1),
      `did:key:z${base58Encode(Uint8Array.of(0xec, 0x01, ...new Uint8Array(32).fill(5)))}`, // x25519 codec
      `did:key:z${base58Encode(Uint8Array.of(0xed, 0x01, ...new Uint8Array(31).fill(5)))}`, // 31 bytes
      `did:key:z1${good.slice(9)}`, // a leading zero byte
      `did:key:z${base58Encode(Uint8Array.of(0xed, 0x01, ...fromHex(SMALL_ORDER_POINTS[4]!)))}`, // small order
      `did:key:z${base58Encode(Uint8Array.of(0xed, 0x01, ...fromHex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")))}`, // y = p
      "did:key:",
      42,
      null,
    ];
    for (const value of bad) {
      expect(isDid(value)).toBe(false);
      expectCode(() => didToPublicKey(value), "DID_INVALID");
      expectCode(() => parseDid(value), "DID_INVALID");
    }
    expectCode(() => publicKeyToDid(new Uint8Array(31)), "KEY_INVALID");
    expectCode(() => publicKeyToDid(fromHex(SMALL_ORDER_POINTS[0]!)), "KEY_INVALID");
  });
});

describe("parseDid and its cache of valid DIDs", () => {
  it("answers a repeated string exactly as the first time, and never remembers an invalid one", () => {
    const good = generateKeyPair().did;
    const smallOrder = `did:key:z${base58Encode(Uint8Array.of(0xed, 0x01, ...fromHex(SMALL_ORDER_POINTS[0]!)))}`;
    for (let round = 0; round < 3; round++) {
      expect(parseDid(good, "body.newKey")).toBe(good);
      expect(isDid(good)).toBe(true);
      try {
        parseDid(smallOrder, "body.newKey");
        throw new Error("accepted a small-order key");
      } catch (error) {
        expect(error).toMatchObject({ code: "DID_INVALID", field: "body.newKey" });
      }
    }
  });

  it("keeps working past did_cache_entries_max distinct DIDs (oldest dropped)", () => {
    const first = generateKeyPair().did;
    parseDid(first);
    const base = generateKeyPair().publicKey;
    let filled = 0;
    for (let index = 0; filled <= did_cache_entries_max; index++) {
      const publicKey = Uint8Array.from(base);
      publicKey[0] = index & 0xff;
      publicKey[1] = (index >> 8) & 0xff;
      publicKey[2] = (index >> 16) & 0xff;
      const did = `did:key:z${base58Encode(Uint8Array.of(0xed, 0x01, ...publicKey))}`;
      if (isDid(did)) filled++;
    }
    expect(parseDid(first)).toBe(first);
  });
});

describe("keys and key files", () => {
  it("generates distinct random keys from globalThis.crypto", () => {
    expect(toHex(randomBytes(32))).not.toBe(toHex(randomBytes(32)));
    expect(generateKeyPair().did).not.toBe(generateKeyPair().did);
  });

  it("a key file round trips", () => {
    const pair = generateKeyPair();
    const text = encodeKeyFile(pair);
    expect(parseKeyFile(text)).toEqual(pair);
    expect(parseKeyFile(new TextEncoder().encode(text))).toEqual(pair);
    expect(JSON.parse(text)).toMatchObject({ version: 1, type: "ed25519", did: pair.did });
  });

  it("malformed key files are KEY_FILE_INVALID", () => {
    const pair = generateKeyPair();
    const json = JSON.parse(encodeKeyFile(pair));
    const other = generateKeyPair();
    const bad: unknown[] = [
      "not json",
      "[]",
      JSON.stringify({ ...json, version: 2 }),
      JSON.stringify({ ...json, type: "rsa" }),
      JSON.stringify({ ...json, extra: 1 }),
      JSON.stringify({ ...json, did: other.did }),
      JSON.stringify({ ...json, publicKey: toHex(other.publicKey) }),
      JSON.stringify({ ...json, secretKey: json.secretKey.slice(2) }),
      JSON.stringify({ ...json, secretKey: json.secretKey.toUpperCase() }),
      JSON.stringify({ ...json, did: undefined }),
      " ".repeat(key_file_bytes_max + 1),
      new Uint8Array([0xff, 0xfe]),
    ];
    for (const input of bad) expectCode(() => parseKeyFile(input as string), "KEY_FILE_INVALID");
  });

  it("random text gives a key pair or KEY_FILE_INVALID (property)", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.jsonValue().map((value) => JSON.stringify(value) ?? ""),
        ),
        (text) => {
          try {
            parseKeyFile(text);
          } catch (error) {
            expect(isProtocolError(error)).toBe(true);
            expect((error as { code: string }).code).toBe("KEY_FILE_INVALID");
          }
        },
      ),
    );
  });
});
