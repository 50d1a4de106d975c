/**
 * Generates the JSON files of test-vectors/ with the package's own API, deterministically: fixed
 * secret keys (sha256 of a name), fixed times, no randomness. `generateVectors()` returns each file's
 * text; packages/protocol/test/vectors.test.ts compares them with the committed files byte for byte
 * and rewrites them when run with UPDATE_VECTORS=1. The shapes are described in test-vectors/README.md
 * and every rule they exercise in docs/protocol.md.
 */
import * as ed from "@noble/ed25519";
import { sha512 } from "@noble/hashes/sha2.js";
import { encode as cborEncode, rfc8949EncodeOptions } from "cborg";
import {
  blockHash,
  blockSigningPayload,
  blockToJson,
  computeResultRoot,
  computeTxRoot,
  encodeBlock,
  encodeBlockHeader,
  encodeTxResult,
  GENESIS_PREV_HASH,
  signBlockHeader,
  txResultToJson,
  verifyBlockStructure,
} from "../src/block.js";
import { concatBytes, fromHex, sha256, toHex, utf8 } from "../src/bytes.js";
import { didToPublicKey } from "../src/did.js";
import { decodeCanonical } from "../src/encoding.js";
import { isProtocolError } from "../src/errors.js";
import type { Genesis } from "../src/genesis.js";
import { type KeyPair, keyPairFromSecretKey } from "../src/keys.js";
import { tx_bytes_max } from "../src/limits.js";
import {
  isValidMerkleProof,
  merkleLeafHash,
  merkleProof,
  merkleProofFromJson,
  merkleProofToJson,
  merkleRoot,
  verifyMerkleProof,
} from "../src/merkle.js";
import { nodeVerifier } from "../src/node.js";
import { applyBlock, applyGenesis, computeAppHash, type LedgerEvent } from "../src/rules.js";
import { nobleSigner, nobleVerifier, type Signer } from "../src/signer.js";
import { MemoryStateStore, RecordingStateStore, type WriteRecord } from "../src/state.js";
import {
  checkTxChain,
  decodeSignedTx,
  encodeSignedTx,
  encodeUnsignedTx,
  type TxSigner,
  txId,
  txSigningPayload,
  txToJson,
  verifyTxSignatures,
} from "../src/tx.js";
import type { Block, BlockHeader, Hash, SignedTx, TxBodies, TxKind, UnsignedTx } from "../src/types.js";

ed.hashes.sha512 = sha512;

/** A JSON value as written to the files. */
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const CHAIN = "medledger-vectors";
/** 2025-01-01T00:00:00Z. */
const T0 = 1_735_689_600_000;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

// ---------------------------------------------------------------------------------------------
// Keys.

const KEY_NAMES = [
  "member-a",
  "member-b",
  "member-c",
  "node-a",
  "node-b",
  "node-c",
  "provider-a",
  "provider-b",
  "patient",
  "patient-new-key",
  "guardian-1",
  "guardian-2",
  "guardian-3",
  "rotated-key",
] as const;
type KeyName = (typeof KEY_NAMES)[number];

/** The secret key of `name`: sha256(utf8("medledger test vector key " + name)). */
function secretKeyOf(name: string): Uint8Array {
  return sha256(utf8(`medledger test vector key ${name}`));
}

const KEYS = new Map<KeyName, KeyPair>(
  KEY_NAMES.map((name) => [name, keyPairFromSecretKey(secretKeyOf(name))]),
);
const SIGNERS = new Map<KeyName, Signer>(KEY_NAMES.map((name) => [name, nobleSigner(secretKeyOf(name))]));

function key(name: KeyName): KeyPair {
  const pair = KEYS.get(name);
  if (pair === undefined) throw new Error(`no key ${name}`);
  return pair;
}
function signer(name: KeyName): Signer {
  const made = SIGNERS.get(name);
  if (made === undefined) throw new Error(`no signer ${name}`);
  return made;
}
function did(name: KeyName): string {
  return key(name).did;
}

function keysFile(): Json {
  const invalid: Array<{ name: string; did: string; error: string; why: string }> = [];
  const base58 = (bytes: Uint8Array) => `did:key:z${base58Encode(bytes)}`;
  const withCodec = (codec: number[], publicKey: Uint8Array) =>
    base58(Uint8Array.from([...codec, ...publicKey]));
  const good = key("patient");
  invalid.push({
    name: "x25519 multicodec (0xec01)",
    did: withCodec([0xec, 0x01], good.publicKey),
    error: "DID_INVALID",
    why: "the multicodec prefix is not 0xed 0x01",
  });
  invalid.push({
    name: "multicodec 0xed 0x00 (still spells z6Mk…)",
    did: withCodec([0xed, 0x00], good.publicKey),
    error: "DID_INVALID",
    why: "the multicodec prefix is not 0xed 0x01",
  });
  invalid.push({
    name: "31-byte key",
    did: withCodec([0xed, 0x01], good.publicKey.subarray(0, 31)),
    error: "DID_INVALID",
    why: "the decoded bytes are not 34 long",
  });
  invalid.push({
    name: "small-order key (the identity point)",
    did: withCodec([0xed, 0x01], fromHex("0100000000000000000000000000000000000000000000000000000000000000")),
    error: "DID_INVALID",
    why: "the key is one of the eight small-order points",
  });
  invalid.push({
    name: "non-canonical key (y = p)",
    did: withCodec([0xed, 0x01], fromHex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")),
    error: "DID_INVALID",
    why: "y is not below p = 2^255 - 19",
  });
  invalid.push({
    name: "sign bit on x = 0 (y = 1)",
    did: withCodec([0xed, 0x01], fromHex("0100000000000000000000000000000000000000000000000000000000000080")),
    error: "DID_INVALID",
    why: "the sign bit is set where x must be 0",
  });
  invalid.push({
    name: "base58 character outside the alphabet",
    did: `${good.did.slice(0, -1)}0`,
    error: "DID_INVALID",
    why: "'0' is not in the base58btc alphabet",
  });
  invalid.push({
    name: "base64url multibase ('u' instead of 'z')",
    did: `did:key:u${good.did.slice(9)}`,
    error: "DID_INVALID",
    why: "the multibase prefix is not 'z'",
  });
  invalid.push({
    name: "leading '1' (a zero byte before the multicodec)",
    did: `did:key:z1${good.did.slice(9)}`,
    error: "DID_INVALID",
    why: "the decoded bytes are 35 long and start with 0x00",
  });
  for (const entry of invalid) {
    expectError(() => didToPublicKey(entry.did), entry.error, entry.name);
  }
  return {
    description:
      "ed25519 key pairs and their did:key. secretKey is the RFC 8032 32-byte seed, here sha256(utf8(seedText)).",
    keys: KEY_NAMES.map((name) => {
      const pair = key(name);
      return {
        name,
        seedText: `medledger test vector key ${name}`,
        secretKey: toHex(pair.secretKey),
        publicKey: toHex(pair.publicKey),
        multicodec: toHex(concatBytes(Uint8Array.of(0xed, 0x01), pair.publicKey)),
        did: pair.did,
      };
    }),
    invalidDids: invalid,
  };
}

// ---------------------------------------------------------------------------------------------
// Transactions.

function unsignedTx<K extends TxKind>(
  kind: K,
  signerName: KeyName,
  body: TxBodies[K],
  options: { nonce?: number; expires?: number; chain?: string } = {},
): UnsignedTx<K> {
  return {
    v: 1,
    chain: options.chain ?? CHAIN,
    kind,
    signer: did(signerName),
    nonce: options.nonce ?? 1,
    expires: options.expires ?? T0 + 10 * MINUTE,
    body,
  };
}

function sign<K extends TxKind>(tx: UnsignedTx<K>, signers: readonly TxSigner[]): SignedTx<K> {
  const signed = signTxChecked(tx, signers);
  verifyTxSignatures(signed, nobleVerifier);
  verifyTxSignatures(signed, nodeVerifier);
  return signed;
}

function signTxChecked<K extends TxKind>(tx: UnsignedTx<K>, signers: readonly TxSigner[]): SignedTx<K> {
  const payload = txSigningPayload(txId(tx));
  const sigs = signers.map((entry) => {
    const signingKey = "key" in entry ? entry.key : entry;
    const identity = "key" in entry ? entry.identity : entry.did;
    return { signer: identity, key: signingKey.did, sig: signingKey.sign(payload) };
  });
  return { tx, sigs };
}

const CONTENT_HASH = sha256(utf8("an Observation resource (plaintext)"));
const LICENSE_HASH = sha256(utf8("licence of provider-a"));

function sampleTransactions(): Array<{ name: string; signed: SignedTx }> {
  const samples: Array<{ name: string; signed: SignedTx }> = [];
  const add = (name: string, signed: SignedTx) => samples.push({ name, signed });
  const proposal = unsignedTx("member.propose", "member-a", {
    action: "add",
    member: did("member-c"),
    nodes: [did("node-c")],
    deadline: T0 + 7 * DAY,
  });
  add("member.propose (add)", sign(proposal, [signer("member-a")]));
  add(
    "member.vote",
    sign(unsignedTx("member.vote", "member-b", { proposal: txId(proposal), approve: true }), [
      signer("member-b"),
    ]),
  );
  add(
    "provider.register",
    sign(
      unsignedTx("provider.register", "member-a", { provider: did("provider-a"), licenseHash: LICENSE_HASH }),
      [signer("member-a")],
    ),
  );
  add(
    "provider.suspend",
    sign(
      unsignedTx("provider.suspend", "member-a", {
        provider: did("provider-b"),
        reason: "licence lapsed — Überprüfung",
      }),
      [signer("member-a")],
    ),
  );
  add("patient.register", sign(unsignedTx("patient.register", "patient", {}), [signer("patient")]));
  add(
    "patient.set-guardians",
    sign(
      unsignedTx("patient.set-guardians", "patient", {
        guardians: [did("guardian-1"), did("guardian-2"), did("guardian-3")],
        threshold: 2,
      }),
      [signer("patient")],
    ),
  );
  add(
    "patient.set-emergency-scope",
    sign(
      unsignedTx("patient.set-emergency-scope", "patient", {
        categories: ["allergies", "medications", "mental-health"],
      }),
      [signer("patient")],
    ),
  );
  add(
    "key.rotate",
    sign(unsignedTx("key.rotate", "provider-a", { newKey: did("rotated-key") }), [signer("provider-a")]),
  );
  add(
    "key.recover (two guardians)",
    sign(
      unsignedTx("key.recover", "guardian-1", { patient: did("patient"), newKey: did("patient-new-key") }),
      [signer("guardian-1"), signer("guardian-2")],
    ),
  );
  add(
    "record.anchor",
    sign(
      unsignedTx("record.anchor", "provider-a", {
        record: "obs-2025-0001",
        patient: did("patient"),
        category: "labs",
        format: "Observation",
        contentHash: CONTENT_HASH,
      }),
      [signer("provider-a")],
    ),
  );
  const grant = unsignedTx("consent.grant", "patient", {
    grantee: did("provider-a"),
    categories: ["labs", "allergies"],
    records: ["obs-2025-0001"],
    purposes: ["TREAT", "ETREAT"],
    notBefore: T0,
    expires: T0 + 30 * DAY,
  });
  add("consent.grant", sign(grant, [signer("patient")]));
  add(
    "consent.revoke",
    sign(unsignedTx("consent.revoke", "patient", { consent: txId(grant) }, { nonce: 2 }), [
      signer("patient"),
    ]),
  );
  add(
    "access.log (category)",
    sign(
      unsignedTx("access.log", "provider-a", { patient: did("patient"), category: "labs", purpose: "TREAT" }),
      [signer("provider-a")],
    ),
  );
  add(
    "access.log (record, signed with a rotated key)",
    sign(
      unsignedTx(
        "access.log",
        "provider-a",
        { patient: did("patient"), category: "labs", purpose: "TREAT", record: "obs-2025-0001" },
        { nonce: 2 },
      ),
      [{ key: signer("rotated-key"), identity: did("provider-a") }],
    ),
  );
  add(
    "emergency.declare",
    sign(
      unsignedTx("emergency.declare", "provider-a", {
        patient: did("patient"),
        reason: "unconscious on arrival",
        durationMs: DAY,
      }),
      [signer("provider-a")],
    ),
  );
  add(
    "emergency.declare (durationMs absent: the 24-hour default)",
    sign(
      unsignedTx(
        "emergency.declare",
        "provider-a",
        { patient: did("patient"), reason: "unconscious on arrival" },
        { nonce: 2 },
      ),
      [signer("provider-a")],
    ),
  );
  add(
    "record.erase",
    sign(unsignedTx("record.erase", "patient", { record: "obs-2025-0001" }), [signer("patient")]),
  );
  add(
    "patient.register (nonce 2^53 - 1, expires 0)",
    sign(unsignedTx("patient.register", "patient", {}, { nonce: Number.MAX_SAFE_INTEGER, expires: 0 }), [
      signer("patient"),
    ]),
  );
  return samples;
}

function transactionVector(name: string, signed: SignedTx): Json {
  const unsignedBytes = encodeUnsignedTx(signed.tx);
  const id = txId(signed.tx);
  return {
    name,
    kind: signed.tx.kind,
    json: txToJson(signed) as unknown as Json,
    unsignedCbor: toHex(unsignedBytes),
    id: toHex(id),
    signingPayload: toHex(txSigningPayload(id)),
    signedCbor: toHex(encodeSignedTx(signed)),
    signatures: signed.sigs.map((sig) => ({
      signer: sig.signer,
      key: sig.key,
      publicKey: toHex(didToPublicKey(sig.key)),
      sig: toHex(sig.sig),
    })),
  };
}

/** Raw map edits: decode a valid encoding, change it, re-encode with plain cborg (no checks). */
// biome-ignore lint/suspicious/noExplicitAny: edits of raw decoded maps
type Raw = any;
function tamper(signed: SignedTx, edit: (raw: Raw) => void): Uint8Array {
  const raw = decodeCanonical(encodeSignedTx(signed), { bytesMax: tx_bytes_max }) as Raw;
  edit(raw);
  return cborEncode(raw, rfc8949EncodeOptions);
}

type Stage = "decode" | "verify" | "chain";

/** Runs the three stages in order on `bytes`; returns the first failing stage and its error code. */
function runStages(bytes: Uint8Array, chain: string): { stage: Stage; error: string } | null {
  let signed: SignedTx;
  try {
    signed = decodeSignedTx(bytes);
  } catch (error) {
    return { stage: "decode", error: codeOf(error) };
  }
  const verdicts: string[] = [];
  for (const verifier of [nobleVerifier, nodeVerifier]) {
    try {
      verifyTxSignatures(signed, verifier);
      verdicts.push("ok");
    } catch (error) {
      verdicts.push(codeOf(error));
    }
  }
  if (verdicts[0] !== verdicts[1]) throw new Error(`the verifiers disagree: ${verdicts.join(" ")}`);
  if (verdicts[0] !== "ok") return { stage: "verify", error: verdicts[0] as string };
  try {
    checkTxChain(signed, chain);
  } catch (error) {
    return { stage: "chain", error: codeOf(error) };
  }
  return null;
}

function codeOf(error: unknown): string {
  if (!isProtocolError(error)) throw error;
  return error.code;
}

function negativeTransactions(samples: Array<{ name: string; signed: SignedTx }>): Json[] {
  const find = (name: string) => {
    const sample = samples.find((entry) => entry.name === name);
    if (sample === undefined) throw new Error(`no sample ${name}`);
    return sample.signed;
  };
  const register = find("patient.register");
  const grant = find("consent.grant");
  const suspend = find("provider.suspend");
  const rotate = find("key.rotate");
  const recover = find("key.recover (two guardians)");
  const valid = encodeSignedTx(register);
  const cases: Array<{ name: string; bytes: Uint8Array; stage: Stage; error: string }> = [];
  const add = (name: string, bytes: Uint8Array, stage: Stage, error: string) =>
    cases.push({ name, bytes, stage, error });

  const flipped = register.sigs[0]!.sig.slice();
  flipped[0] = (flipped[0] as number) ^ 0x01;
  add(
    "tampered signature (first bit of R flipped)",
    encodeSignedTx({ ...register, sigs: [{ ...register.sigs[0]!, sig: flipped }] }),
    "verify",
    "SIGNATURE_INVALID",
  );
  const bare = signer("patient").sign(txId(register.tx));
  add(
    "signature over the bare id (no domain prefix)",
    encodeSignedTx({ ...register, sigs: [{ ...register.sigs[0]!, sig: bare }] }),
    "verify",
    "SIGNATURE_INVALID",
  );
  add(
    "tampered body (the signature was made for another body)",
    encodeSignedTx({
      ...grant,
      tx: { ...grant.tx, body: { ...(grant.tx.body as TxBodies["consent.grant"]), purposes: ["HRESCH"] } },
    } as SignedTx),
    "verify",
    "SIGNATURE_INVALID",
  );
  const byOther = signTxChecked(register.tx, [{ key: signer("guardian-1"), identity: did("patient") }]);
  add(
    "signed by a key that is not the signature's key field",
    encodeSignedTx({ ...byOther, sigs: [{ ...byOther.sigs[0]!, key: did("patient") }] }),
    "verify",
    "SIGNATURE_INVALID",
  );
  const twice = signTxChecked(
    unsignedTx("key.recover", "guardian-1", { patient: did("patient"), newKey: did("patient-new-key") }),
    [signer("guardian-1"), signer("guardian-1")],
  );
  add("the same identity and key sign twice", encodeSignedTx(twice), "verify", "SIGNATURE_INVALID");
  const notFirst = signTxChecked(register.tx, [signer("guardian-1")]);
  add(
    "the first signature is not by the envelope's signer",
    encodeSignedTx(notFirst),
    "verify",
    "SIGNATURE_INVALID",
  );
  add(
    "wrong chain (signed for another chain)",
    encodeSignedTx(
      sign(unsignedTx("patient.register", "patient", {}, { chain: "another-chain" }), [signer("patient")]),
    ),
    "chain",
    "CHAIN_MISMATCH",
  );
  add(
    "chain changed after signing",
    tamper(register, (raw) => {
      raw.tx.chain = "another-chain";
    }),
    "verify",
    "SIGNATURE_INVALID",
  );
  // Non-canonical encodings of the valid patient.register.
  add("non-canonical: nonce 1 as 0x18 0x01", spliceNonce(valid), "decode", "ENCODING_INVALID");
  add("non-canonical: indefinite-length outer map", indefiniteOuterMap(valid), "decode", "ENCODING_INVALID");
  add("non-canonical: trailing byte", concatBytes(valid, Uint8Array.of(0x00)), "decode", "ENCODING_INVALID");
  add(
    "non-canonical: map keys in insertion order (sigs before tx)",
    cborEncode(
      new Map<string, unknown>([
        ["sigs", rawOf(register).sigs],
        ["tx", rawOf(register).tx],
      ]),
      {
        ...rfc8949EncodeOptions,
        mapSorter: () => 0,
      },
    ),
    "decode",
    "ENCODING_INVALID",
  );
  add(
    "a float (expires as float64)",
    replaceExpiresWithFloat(valid, register.tx.expires),
    "decode",
    "ENCODING_INVALID",
  );
  add(
    "unknown kind",
    tamper(register, (raw) => {
      raw.tx.kind = "patient.delete";
    }),
    "decode",
    "KIND_UNKNOWN",
  );
  add(
    "oversized field: a 513-byte suspension reason",
    tamper(suspend, (raw) => {
      raw.tx.body.reason = "x".repeat(513);
    }),
    "decode",
    "FIELD_TOO_LARGE",
  );
  add(
    "oversized field: a 65-byte chain id",
    tamper(register, (raw) => {
      raw.tx.chain = "c".repeat(65);
    }),
    "decode",
    "FIELD_TOO_LARGE",
  );
  add(
    "oversized encoding: more than 8192 bytes",
    tamper(suspend, (raw) => {
      raw.tx.body.reason = "x".repeat(8200);
    }),
    "decode",
    "ENCODING_TOO_LARGE",
  );
  add(
    "unknown envelope field",
    tamper(register, (raw) => {
      raw.tx.extra = 1;
    }),
    "decode",
    "FIELD_UNKNOWN",
  );
  add(
    "missing envelope field (nonce)",
    tamper(register, (raw) => {
      delete raw.tx.nonce;
    }),
    "decode",
    "FIELD_MISSING",
  );
  add(
    "no signatures",
    tamper(register, (raw) => {
      raw.sigs = [];
    }),
    "decode",
    "FIELD_MISSING",
  );
  add(
    "nine signatures",
    tamper(register, (raw) => {
      raw.sigs = Array(9).fill(raw.sigs[0]);
    }),
    "decode",
    "FIELD_TOO_LARGE",
  );
  add(
    "envelope version 2",
    tamper(register, (raw) => {
      raw.tx.v = 2;
    }),
    "decode",
    "FIELD_INVALID",
  );
  add(
    "a 63-byte signature",
    tamper(register, (raw) => {
      raw.sigs[0].sig = raw.sigs[0].sig.subarray(0, 63);
    }),
    "decode",
    "FIELD_INVALID",
  );
  add(
    "a signer that is not a did:key",
    tamper(register, (raw) => {
      raw.tx.signer = "did:web:example.org";
    }),
    "decode",
    "DID_INVALID",
  );
  add(
    "a body DID that is not a did:key",
    tamper(grant, (raw) => {
      raw.tx.body.grantee = "did:key:z6Mk";
    }),
    "decode",
    "DID_INVALID",
  );
  // Body DIDs get the full check of section 2: these spell did:key:z6Mk + 44 base58 characters.
  add(
    "a key.rotate newKey that is a small-order key (the identity point)",
    tamper(rotate, (raw) => {
      raw.tx.body.newKey = didOfBytes([0xed, 0x01, 0x01, ...new Uint8Array(31)]);
    }),
    "decode",
    "DID_INVALID",
  );
  add(
    "a key.recover newKey that is a non-canonical key (y = p)",
    tamper(recover, (raw) => {
      raw.tx.body.newKey = didOfBytes([0xed, 0x01, 0xed, ...new Uint8Array(30).fill(0xff), 0x7f]);
    }),
    "decode",
    "DID_INVALID",
  );
  add(
    "a grantee DID with multicodec 0xed 0x00",
    tamper(grant, (raw) => {
      raw.tx.body.grantee = didOfBytes([0xed, 0x00, ...key("provider-a").publicKey]);
    }),
    "decode",
    "DID_INVALID",
  );
  add(
    "a category outside the vocabulary",
    tamper(grant, (raw) => {
      raw.tx.body.categories = ["labs", "x-rays"];
    }),
    "decode",
    "FIELD_INVALID",
  );
  add(
    "a category listed twice",
    tamper(grant, (raw) => {
      raw.tx.body.categories = ["labs", "labs"];
    }),
    "decode",
    "FIELD_INVALID",
  );
  add(
    "notBefore not before expires",
    tamper(grant, (raw) => {
      raw.tx.body.notBefore = raw.tx.body.expires;
    }),
    "decode",
    "FIELD_INVALID",
  );
  for (const entry of cases) {
    const outcome = runStages(entry.bytes, CHAIN);
    if (outcome === null || outcome.stage !== entry.stage || outcome.error !== entry.error) {
      throw new Error(`negative vector "${entry.name}": got ${JSON.stringify(outcome)}`);
    }
  }
  return cases.map((entry) => ({
    name: entry.name,
    signedCbor: toHex(entry.bytes),
    expected: { stage: entry.stage, error: entry.error },
  }));
}

function rawOf(signed: SignedTx): Raw {
  return decodeCanonical(encodeSignedTx(signed), { bytesMax: tx_bytes_max }) as Raw;
}

/** Replaces the encoding of `nonce: 1` (65 6e6f6e6365 01) by its non-shortest form (… 18 01). */
function spliceNonce(bytes: Uint8Array): Uint8Array {
  const hex = toHex(bytes);
  const marker = `65${toHex(utf8("nonce"))}01`;
  if (!hex.includes(marker)) throw new Error("nonce marker not found");
  return fromHex(hex.replace(marker, `65${toHex(utf8("nonce"))}1801`));
}

/** The outer map a2 … as an indefinite-length map bf … ff. */
function indefiniteOuterMap(bytes: Uint8Array): Uint8Array {
  if (bytes[0] !== 0xa2) throw new Error("expected a two-entry map");
  return concatBytes(Uint8Array.of(0xbf), bytes.subarray(1), Uint8Array.of(0xff));
}

/** Replaces the integer `expires` with the same value as a float64 (0xfb …). */
function replaceExpiresWithFloat(bytes: Uint8Array, expires: number): Uint8Array {
  const hex = toHex(bytes);
  const key = `67${toHex(utf8("expires"))}`;
  const integer = toHex(cborEncode(expires, rfc8949EncodeOptions));
  const float = new Uint8Array(9);
  float[0] = 0xfb;
  new DataView(float.buffer).setFloat64(1, expires);
  if (!hex.includes(key + integer)) throw new Error("expires marker not found");
  return fromHex(hex.replace(key + integer, key + toHex(float)));
}

function transactionsFile(): Json {
  const samples = sampleTransactions();
  const kinds = new Set(samples.map((sample) => sample.signed.tx.kind));
  if (kinds.size !== 15) throw new Error("every kind needs a vector");
  return {
    description:
      "Signed transactions of every kind with their encodings, ids, signing payloads and signatures, then negative vectors.",
    chain: CHAIN,
    valid: samples.map((sample) => transactionVector(sample.name, sample.signed)),
    invalid: negativeTransactions(samples),
  };
}

// ---------------------------------------------------------------------------------------------
// Signatures.

const RFC8032 = [
  {
    name: "RFC 8032 TEST 1",
    secretKey: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    message: "",
  },
  {
    name: "RFC 8032 TEST 2",
    secretKey: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    message: "72",
  },
  {
    name: "RFC 8032 TEST 3",
    secretKey: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
    message: "af82",
  },
  {
    name: "RFC 8032 TEST SHA(abc)",
    secretKey: "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
    message:
      "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
  },
];

/** "Taming the many EdDSAs" (SSR 2020) Table 6, cases 0 to 11. */
const TAMING: Array<{ case: number; what: string; message: string; publicKey: string; signature: string }> = [
  {
    case: 0,
    what: "S = 0, small-order A and R",
    message: "8c93255d71dcab10e8f379c26200f3c7bd5f09d9bc3068d3ef4edeb4853022b6",
    publicKey: "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    signature:
      "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a0000000000000000000000000000000000000000000000000000000000000000",
  },
  {
    case: 1,
    what: "0 < S < L, small-order A, mixed-order R",
    message: "9bd9f44f4dcc75bd531b56b2cd280b0bb38fc1cd6d1230e14861d861de092e79",
    publicKey: "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    signature:
      "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43a5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
  },
  {
    case: 2,
    what: "0 < S < L, mixed-order A, small-order R",
    message: "aebf3f2601a0c8c5d39cc7d8911642f740b78168218da8471772b35f9d35b9ab",
    publicKey: "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
    signature:
      "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa8c4bd45aecaca5b24fb97bc10ac27ac8751a7dfe1baff8b953ec9f5833ca260e",
  },
  {
    case: 3,
    what: "0 < S < L, mixed-order A and R, passes cofactored and cofactorless",
    message: "9bd9f44f4dcc75bd531b56b2cd280b0bb38fc1cd6d1230e14861d861de092e79",
    publicKey: "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
    signature:
      "9046a64750444938de19f227bb80485e92b83fdb4b6506c160484c016cc1852f87909e14428a7a1d62e9f22f3d3ad7802db02eb2e688b6c52fcd6648a98bd009",
  },
  {
    case: 4,
    what: "0 < S < L, mixed-order A and R, passes cofactored only",
    message: "e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec4011eaccd55b53f56c",
    publicKey: "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
    signature:
      "160a1cb0dc9c0258cd0a7d23e94d8fa878bcb1925f2c64246b2dee1796bed5125ec6bc982a269b723e0668e540911a9a6a58921d6925e434ab10aa7940551a09",
  },
  {
    case: 5,
    what: "0 < S < L, mixed-order A, L-order R, passes cofactored (pre-reduced k) only",
    message: "e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec4011eaccd55b53f56c",
    publicKey: "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
    signature:
      "21122a84e0b5fca4052f5b1235c80a537878b38f3142356b2c2384ebad4668b7e40bc836dac0f71076f9abe3a53f9c03c1ceeeddb658d0030494ace586687405",
  },
  {
    case: 6,
    what: "S > L",
    message: "85e241a07d148b41e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec40",
    publicKey: "442aad9f089ad9e14647b1ef9099a1ff4798d78589e66f28eca69c11f582a623",
    signature:
      "e96f66be976d82e60150baecff9906684aebb1ef181f67a7189ac78ea23b6c0e547f7690a0e2ddcd04d87dbc3490dc19b3b3052f7ff0538cb68afb369ba3a514",
  },
  {
    case: 7,
    what: "S >> L",
    message: "85e241a07d148b41e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec40",
    publicKey: "442aad9f089ad9e14647b1ef9099a1ff4798d78589e66f28eca69c11f582a623",
    signature:
      "8ce5b96c8f26d0ab6c47958c9e68b937104cd36e13c33566acd2fe8d38aa19427e71f98a473474f2f13f06f97c20d58cc3f54b8bd0d272f42b695dd7e89a8c22",
  },
  {
    case: 8,
    what: "non-canonical R (small order)",
    message: "9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41",
    publicKey: "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
    signature:
      "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff03be9678ac102edcd92b0210bb34d7428d12ffc5df5f37e359941266a4e35f0f",
  },
  {
    case: 9,
    what: "non-canonical R (small order)",
    message: "9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41",
    publicKey: "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
    signature:
      "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffca8c5b64cd208982aa38d4936621a4775aa233aa0505711d8fdcfdaa943d4908",
  },
  {
    case: 10,
    what: "non-canonical A (small order)",
    message: "e96b7021eb39c1a163b6da4e3093dcd3f21387da4cc4572be588fafae23c155b",
    publicKey: "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    signature:
      "a9d55260f765261eb9b84e106f665e00b867287a761990d7135963ee0a7d59dca5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
  },
  {
    case: 11,
    what: "non-canonical A (small order)",
    message: "39a591f5321bbe07fd5a23dc2f39d025d74526615746727ceefd6e82ae65c06f",
    publicKey: "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    signature:
      "a9d55260f765261eb9b84e106f665e00b867287a761990d7135963ee0a7d59dca5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
  },
];
const TAMING_ACCEPTED = new Set([3]);

const GROUP_ORDER = (1n << 252n) + 27742317777372353535851937790883648493n;

function littleEndianToBigInt(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let index = bytes.length - 1; index >= 0; index--)
    value = (value << 8n) | BigInt(bytes[index] as number);
  return value;
}

function bigIntToLittleEndian(value: bigint): Uint8Array {
  const out = new Uint8Array(32);
  let rest = value;
  for (let index = 0; index < 32; index++) {
    out[index] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return out;
}

interface SignatureCase {
  name: string;
  publicKey: string;
  message: string;
  signature: string;
  valid: boolean;
  rule: string;
}

function signaturesFile(): Json {
  const cases: SignatureCase[] = [];
  const add = (entry: SignatureCase) => cases.push(entry);
  const rfc = RFC8032.map((vector) => {
    const made = nobleSigner(fromHex(vector.secretKey));
    return {
      ...vector,
      publicKey: toHex(made.publicKey),
      signature: toHex(made.sign(fromHex(vector.message))),
    };
  });
  for (const vector of rfc) {
    add({
      name: vector.name,
      publicKey: vector.publicKey,
      message: vector.message,
      signature: vector.signature,
      valid: true,
      rule: "accepted",
    });
  }
  const test1 = rfc[0]!;
  const test2 = rfc[1]!;
  const signature1 = fromHex(test1.signature);
  const flipped = fromHex(test2.signature);
  flipped[10] = (flipped[10] as number) ^ 1;
  add({
    name: "RFC 8032 TEST 2 with one signature bit flipped",
    publicKey: test2.publicKey,
    message: test2.message,
    signature: toHex(flipped),
    valid: false,
    rule: "equation",
  });
  add({
    name: "RFC 8032 TEST 2 signature on another message",
    publicKey: test2.publicKey,
    message: "73",
    signature: test2.signature,
    valid: false,
    rule: "equation",
  });
  const sPlusL = littleEndianToBigInt(signature1.subarray(32)) + GROUP_ORDER;
  add({
    name: "RFC 8032 TEST 1 with S + L (malleated, same scalar mod L)",
    publicKey: test1.publicKey,
    message: test1.message,
    signature: toHex(concatBytes(signature1.subarray(0, 32), bigIntToLittleEndian(sPlusL))),
    valid: false,
    rule: "S < L",
  });
  add({
    name: "31-byte public key",
    publicKey: test1.publicKey.slice(0, 62),
    message: test1.message,
    signature: test1.signature,
    valid: false,
    rule: "lengths",
  });
  add({
    name: "63-byte signature",
    publicKey: test1.publicKey,
    message: test1.message,
    signature: test1.signature.slice(0, 126),
    valid: false,
    rule: "lengths",
  });
  add({
    name: "65-byte signature (zeros)",
    publicKey: test1.publicKey,
    message: test1.message,
    signature: "00".repeat(65),
    valid: false,
    rule: "lengths",
  });
  add({
    name: "public key not on the curve (y = 2)",
    publicKey: "0200000000000000000000000000000000000000000000000000000000000000",
    message: test1.message,
    signature: test1.signature,
    valid: false,
    rule: "A decodes to a curve point",
  });
  add({
    name: "public key y = 2^255 - 1 (y >= p)",
    publicKey: "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    message: test1.message,
    signature: test1.signature,
    valid: false,
    rule: "canonical A",
  });
  add({
    name: "public key y = 1 with the sign bit set",
    publicKey: "0100000000000000000000000000000000000000000000000000000000000080",
    message: test1.message,
    signature: test1.signature,
    valid: false,
    rule: "canonical A",
  });
  const smallOrder = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
  ];
  smallOrder.forEach((point, index) => {
    add({
      name: `R replaced by small-order point ${index}`,
      publicKey: test1.publicKey,
      message: test1.message,
      signature: point + test1.signature.slice(64),
      valid: false,
      rule: "R not of small order",
    });
  });
  // Small-order A with S = 0 and R = A: [0]B - [k]A is a small-order point; policy rejects before.
  add({
    name: "small-order A = R, S = 0 (identity point)",
    publicKey: smallOrder[0]!,
    message: "",
    signature: smallOrder[0]! + "00".repeat(32),
    valid: false,
    rule: "A not of small order",
  });
  for (const vector of TAMING) {
    add({
      name: `Taming the many EdDSAs case ${vector.case}: ${vector.what}`,
      publicKey: vector.publicKey,
      message: vector.message,
      signature: vector.signature,
      valid: TAMING_ACCEPTED.has(vector.case),
      rule: TAMING_ACCEPTED.has(vector.case) ? "accepted" : tamingRule(vector.case),
    });
  }
  // Mixed-order public key A' = A + T2 (T2 of order 2): cofactorless accepts iff k is even.
  const { scalar } = ed.utils.getExtendedPublicKey(new Uint8Array(32).fill(42));
  const twoTorsion = ed.Point.fromBytes(fromHex(smallOrder[1]!), false);
  const mixedKey = ed.Point.BASE.multiply(scalar).add(twoTorsion).toBytes();
  const found = new Set<boolean>();
  for (let attempt = 1; attempt <= 12 && found.size < 2; attempt++) {
    const message = Uint8Array.of(attempt);
    const nonce = BigInt(attempt) * 7919n;
    const r = ed.Point.BASE.multiply(nonce).toBytes();
    const k = littleEndianToBigInt(sha512(concatBytes(r, mixedKey, message))) % GROUP_ORDER;
    const even = k % 2n === 0n;
    if (found.has(even)) continue;
    found.add(even);
    const s = (nonce + k * scalar) % GROUP_ORDER;
    add({
      name: `mixed-order public key (A + point of order 2), k ${even ? "even" : "odd"}`,
      publicKey: toHex(mixedKey),
      message: toHex(message),
      signature: toHex(concatBytes(r, bigIntToLittleEndian(s))),
      valid: even,
      rule: even ? "accepted (cofactorless equation holds)" : "equation (holds only cofactored)",
    });
  }
  for (const entry of cases) {
    for (const verifier of [nobleVerifier, nodeVerifier]) {
      const outcome = verifier.verify(
        fromHex(entry.publicKey),
        fromHex(entry.message),
        fromHex(entry.signature),
      );
      if (outcome !== entry.valid) throw new Error(`${verifier.name} disagrees on "${entry.name}"`);
    }
  }
  return {
    description:
      "ed25519 verification cases under the protocol's strict policy: valid is what every conforming verifier answers.",
    cases: cases as unknown as Json,
  };
}

function tamingRule(caseNumber: number): string {
  switch (caseNumber) {
    case 0:
    case 1:
      return "A not of small order";
    case 2:
      return "R not of small order";
    case 4:
    case 5:
      return "equation (holds only cofactored)";
    case 6:
    case 7:
      return "S < L";
    case 8:
    case 9:
      return "canonical R";
    default:
      return "canonical A";
  }
}

// ---------------------------------------------------------------------------------------------
// Merkle trees.

function merkleFile(): Json {
  const leavesOf = (size: number) => Array.from({ length: size }, (_, index) => utf8(`leaf ${index}`));
  const trees = [0, 1, 2, 3, 4, 5, 7, 8, 13].map((size) => {
    const leaves = leavesOf(size);
    const root = merkleRoot(leaves);
    const proofs = leaves.map((leaf, index) => {
      const proof = merkleProof(leaves, index);
      verifyMerkleProof({ root, leaf, proof });
      return merkleProofToJson(proof) as unknown as Json;
    });
    return {
      size,
      leaves: leaves.map(toHex),
      leafHashes: leaves.map((leaf) => toHex(merkleLeafHash(leaf))),
      root: toHex(root),
      proofs,
    };
  });
  const leaves = leavesOf(5);
  const root = toHex(merkleRoot(leaves));
  const proof = merkleProofToJson(merkleProof(leaves, 2));
  const invalid: Array<{ name: string; root: string; leaf: string; proof: Json; error: string }> = [];
  const add = (name: string, proof: Json, error: string, leaf = toHex(leaves[2]!), useRoot = root) =>
    invalid.push({ name, root: useRoot, leaf, proof, error });
  add("wrong leaf", proof as unknown as Json, "MERKLE_PROOF_INVALID", toHex(leaves[3]!));
  add("wrong index", { ...proof, index: 3 }, "MERKLE_PROOF_INVALID");
  add(
    "wrong size (3: the path is longer than the tree is deep)",
    { ...proof, size: 3 },
    "MERKLE_PROOF_INVALID",
  );
  add("path one hash short", { ...proof, path: proof.path.slice(0, -1) }, "MERKLE_PROOF_INVALID");
  add("path one hash too long", { ...proof, path: [...proof.path, proof.path[0]!] }, "MERKLE_PROOF_INVALID");
  add(
    "a sibling hash changed",
    { ...proof, path: [toHex(sha256(fromHex(proof.path[0]!))), ...proof.path.slice(1)] },
    "MERKLE_PROOF_INVALID",
  );
  add("index not below size", { ...proof, index: 5 }, "MERKLE_PROOF_INVALID");
  add("size 0", { index: 0, size: 0, path: [] }, "MERKLE_PROOF_INVALID");
  add(
    "the root of another tree",
    proof as unknown as Json,
    "MERKLE_PROOF_INVALID",
    toHex(leaves[2]!),
    trees[6]!.root,
  );
  add(
    "a 31-byte sibling",
    { ...proof, path: [proof.path[0]!.slice(2), ...proof.path.slice(1)] },
    "FIELD_INVALID",
  );
  add("33 path hashes", { ...proof, path: Array(33).fill(proof.path[0]!) }, "FIELD_TOO_LARGE");
  add("a negative index", { ...proof, index: -1 }, "FIELD_INVALID");
  add("an unknown field", { ...proof, depth: 3 }, "FIELD_UNKNOWN");
  for (const entry of invalid) {
    expectError(
      () =>
        verifyMerkleProof({
          root: fromHex(entry.root),
          leaf: fromHex(entry.leaf),
          proof: merkleProofFromJson(entry.proof),
        }),
      entry.error,
      entry.name,
    );
  }
  const valid = trees[5]!;
  if (
    !isValidMerkleProof({ root: fromHex(valid.root), leaf: leaves[2]!, proof: merkleProofFromJson(proof) })
  ) {
    throw new Error("the base proof does not verify");
  }
  return {
    description:
      "Merkle trees (RFC 6962/9162): leaves, leaf hashes, roots and the inclusion proof of every leaf, then invalid proofs.",
    trees,
    invalid: invalid as unknown as Json,
  };
}

// ---------------------------------------------------------------------------------------------
// Chains: genesis, blocks, results, app hashes.

interface PlannedTx {
  /** What the vector says about this transaction. */
  note: string;
  signed: SignedTx;
  /** The expected result code, checked when the block is applied. */
  expect: string;
}

interface PlannedBlock {
  /** Milliseconds after the previous block (or genesis). */
  advanceMs: number;
  note: string;
  txs: PlannedTx[];
}

/** Builds, applies and verifies a chain of signed blocks; returns their vector views. */
class ChainBuilder {
  readonly store = new MemoryStateStore();
  readonly genesisAppHash: Hash;
  readonly genesisEvents: LedgerEvent[];
  readonly genesisLog: WriteRecord[] = [];
  time: number;
  previous: BlockHeader | null = null;
  raftIndex = 3;
  readonly blocks: Json[] = [];

  constructor(
    readonly genesis: Genesis,
    readonly proposer: Signer,
  ) {
    // applyGenesis logs its marker record itself (not through the store): add it to the outer log.
    this.genesisLog.push(["genesis", genesis.chain, { chain: genesis.chain, time: genesis.time }]);
    const recorder = new RecordingStateStore(this.store, this.genesisLog);
    const outcome = applyGenesis(recorder, genesis);
    this.genesisAppHash = outcome.appHash;
    checkLog(new Uint8Array(32), 0, this.genesisLog, outcome.appHash);
    this.genesisEvents = outcome.events;
    this.time = genesis.time;
  }

  /** The current time plus `ms` (for transaction expiries). */
  at(ms: number): number {
    return this.time + ms;
  }

  appHash(): Hash {
    return this.store.getChain()!.appHash;
  }

  block(plan: PlannedBlock): Block {
    const time = this.time + plan.advanceMs;
    const height = (this.previous?.height ?? 0) + 1;
    const prevAppHash = this.appHash();
    const log: WriteRecord[] = [];
    const txs = plan.txs.map((entry) => ({ signed: entry.signed, id: txId(entry.signed.tx) }));
    const outcome = applyBlock(new RecordingStateStore(this.store, log), {
      chain: this.genesis.chain,
      height,
      time,
      prevAppHash,
      txs,
    });
    checkLog(prevAppHash, height, log, outcome.appHash);
    outcome.results.forEach((result, index) => {
      const expected = plan.txs[index]!.expect;
      if (result.code !== expected) {
        throw new Error(
          `block ${height} tx ${index} (${plan.txs[index]!.note}): ${result.code}, not ${expected}`,
        );
      }
    });
    this.raftIndex += 1 + plan.txs.length;
    const header: BlockHeader = {
      v: 1,
      chain: this.genesis.chain,
      height,
      prev: this.previous === null ? GENESIS_PREV_HASH : blockHash(this.previous),
      time,
      proposer: this.proposer.did,
      txRoot: computeTxRoot(txs.map((tx) => tx.signed)),
      resultRoot: computeResultRoot(outcome.results),
      appHash: outcome.appHash,
      raftTerm: 2,
      raftIndex: this.raftIndex,
    };
    const block: Block = {
      header,
      sig: signBlockHeader(header, this.proposer),
      txs: txs.map((tx) => tx.signed),
      results: outcome.results,
    };
    const anchor = this.previous ?? { chain: this.genesis.chain, time: this.genesis.time };
    verifyBlockStructure(block, anchor, nobleVerifier);
    verifyBlockStructure(block, anchor, nodeVerifier);
    this.blocks.push(this.blockVector(block, plan, prevAppHash, log, outcome.events));
    this.previous = header;
    this.time = time;
    return block;
  }

  private blockVector(
    block: Block,
    plan: PlannedBlock,
    prevAppHash: Hash,
    log: WriteRecord[],
    events: LedgerEvent[],
  ): Json {
    const hash = blockHash(block.header);
    const txLeaves = block.txs.map(encodeSignedTx);
    return {
      note: plan.note,
      height: block.header.height,
      time: block.header.time,
      headerCbor: toHex(encodeBlockHeader(block.header)),
      hash: toHex(hash),
      signingPayload: toHex(blockSigningPayload(hash)),
      sig: toHex(block.sig),
      prevAppHash: toHex(prevAppHash),
      appHash: toHex(block.header.appHash),
      txRoot: toHex(block.header.txRoot),
      resultRoot: toHex(block.header.resultRoot),
      txs: block.txs.map((signed, index) => ({
        note: plan.txs[index]!.note,
        id: toHex(txId(signed.tx)),
        signedCbor: toHex(txLeaves[index]!),
        proof: merkleProofToJson(merkleProof(txLeaves, index)) as unknown as Json,
      })),
      results: block.results.map((result) => ({
        json: txResultToJson(result) as unknown as Json,
        cbor: toHex(encodeTxResult(result)),
      })),
      writeLog: log.map((record) => toHex(cborEncode(record, rfc8949EncodeOptions))),
      events: toJsonValue(events),
      json: blockToJson(block) as unknown as Json,
      blockCbor: toHex(encodeBlock(block)),
    };
  }

  genesisVector(): Json {
    return {
      json: this.genesis as unknown as Json,
      appHash: toHex(this.genesisAppHash),
      writeLog: this.genesisLog.map((record) => toHex(cborEncode(record, rfc8949EncodeOptions))),
      events: toJsonValue(this.genesisEvents),
    };
  }
}

/** Throws unless the logged writes reproduce the app hash (the vectors' write logs are complete). */
function checkLog(prevAppHash: Hash, height: number, log: WriteRecord[], appHash: Hash): void {
  if (toHex(computeAppHash(prevAppHash, height, log)) !== toHex(appHash)) {
    throw new Error(`the write log of height ${height} does not reproduce its app hash`);
  }
}

/** Byte strings become lowercase hex; everything else is copied. */
function toJsonValue(value: unknown): Json {
  if (value instanceof Uint8Array) return toHex(value);
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (value !== null && typeof value === "object") {
    const out: { [key: string]: Json } = {};
    for (const [name, field] of Object.entries(value)) out[name] = toJsonValue(field);
    return out;
  }
  return value as Json;
}

/** A signed transaction by `signerName` (nonce from a counter), valid for 10 minutes after `time`. */
function txAt<K extends TxKind>(
  time: number,
  kind: K,
  signerName: KeyName,
  body: TxBodies[K],
  nonce: number,
  signers: readonly TxSigner[] = [signer(signerName)],
): SignedTx<K> {
  return sign(unsignedTx(kind, signerName, body, { nonce, expires: time + 10 * MINUTE }), signers);
}

function foundingGenesis(): Genesis {
  return {
    chain: CHAIN,
    time: T0,
    members: [
      { member: did("member-a"), nodes: [did("node-a")] },
      { member: did("member-b"), nodes: [did("node-b")] },
    ],
  };
}

function blocksFile(): Json {
  const chain = new ChainBuilder(foundingGenesis(), signer("node-a"));
  let nonce = 100;
  const next = () => nonce++;
  const t1 = chain.at(1000);
  const proposal = txAt(
    t1,
    "member.propose",
    "member-a",
    { action: "add", member: did("member-c"), nodes: [did("node-c")], deadline: t1 + 7 * DAY },
    next(),
  );
  chain.block({
    advanceMs: 1000,
    note: "a provider, a patient and a proposal to admit member-c (1 of 2 approvals: stays open)",
    txs: [
      {
        note: "provider.register",
        signed: txAt(
          t1,
          "provider.register",
          "member-a",
          { provider: did("provider-a"), licenseHash: LICENSE_HASH },
          next(),
        ),
        expect: "ok",
      },
      { note: "patient.register", signed: txAt(t1, "patient.register", "patient", {}, next()), expect: "ok" },
      { note: "member.propose (add member-c)", signed: proposal, expect: "ok" },
    ],
  });
  const t2 = chain.at(2000);
  chain.block({
    advanceMs: 2000,
    note: "member-b approves: 2 of 2 members, the proposal passes; an anchor and a consent",
    txs: [
      {
        note: "member.vote (approve)",
        signed: txAt(t2, "member.vote", "member-b", { proposal: txId(proposal.tx), approve: true }, next()),
        expect: "ok",
      },
      {
        note: "record.anchor",
        signed: txAt(
          t2,
          "record.anchor",
          "provider-a",
          {
            record: "obs-1",
            patient: did("patient"),
            category: "labs",
            format: "Observation",
            contentHash: CONTENT_HASH,
          },
          next(),
        ),
        expect: "ok",
      },
      {
        note: "consent.grant to provider-a",
        signed: txAt(
          t2,
          "consent.grant",
          "patient",
          {
            grantee: did("provider-a"),
            categories: ["labs"],
            records: [],
            purposes: ["TREAT"],
            notBefore: t2,
            expires: t2 + 30 * DAY,
          },
          next(),
        ),
        expect: "ok",
      },
    ],
  });
  chain.block({ advanceMs: 3000, note: "an empty block", txs: [] });
  const t4 = chain.at(1000);
  chain.block({
    advanceMs: 1000,
    note: "a permitted access and a vote on a passed proposal",
    txs: [
      {
        note: "access.log (labs, TREAT): permitted",
        signed: txAt(
          t4,
          "access.log",
          "provider-a",
          { patient: did("patient"), category: "labs", purpose: "TREAT" },
          next(),
        ),
        expect: "consent",
      },
      {
        note: "member.vote by the new member-c on the passed proposal",
        signed: txAt(t4, "member.vote", "member-c", { proposal: txId(proposal.tx), approve: true }, next()),
        expect: "proposal-closed",
      },
    ],
  });
  return {
    description:
      "A small chain from a genesis: every block with its header encoding, hash, signature, roots, results, write log and app hash.",
    chain: CHAIN,
    proposer: did("node-a"),
    genesis: chain.genesisVector(),
    blocks: chain.blocks,
  };
}

function scenarioFile(): Json {
  const chain = new ChainBuilder(
    { chain: CHAIN, time: T0, members: [{ member: did("member-a"), nodes: [did("node-a")] }] },
    signer("node-a"),
  );
  let nonce = 1;
  const next = () => nonce++;
  const patient = did("patient");
  const access = (time: number, category: string, purpose: string, record?: string) =>
    txAt(
      time,
      "access.log",
      "provider-a",
      (record === undefined
        ? { patient, category, purpose }
        : { patient, category, purpose, record }) as TxBodies["access.log"],
      next(),
    );

  // Block 1: registrations.
  let t = chain.at(1000);
  chain.block({
    advanceMs: 1000,
    note: "register two providers of member-a and a patient; the patient names guardians (2 of 3)",
    txs: [
      {
        note: "provider.register provider-a",
        signed: txAt(
          t,
          "provider.register",
          "member-a",
          { provider: did("provider-a"), licenseHash: LICENSE_HASH },
          next(),
        ),
        expect: "ok",
      },
      {
        note: "provider.register provider-b",
        signed: txAt(
          t,
          "provider.register",
          "member-a",
          { provider: did("provider-b"), licenseHash: sha256(utf8("licence of provider-b")) },
          next(),
        ),
        expect: "ok",
      },
      { note: "patient.register", signed: txAt(t, "patient.register", "patient", {}, next()), expect: "ok" },
      {
        note: "patient.set-guardians (2 of 3)",
        signed: txAt(
          t,
          "patient.set-guardians",
          "patient",
          { guardians: [did("guardian-1"), did("guardian-2"), did("guardian-3")], threshold: 2 },
          next(),
        ),
        expect: "ok",
      },
    ],
  });

  // Block 2: anchors and consents.
  t = chain.at(1000);
  const grantLabs = txAt(
    t,
    "consent.grant",
    "patient",
    {
      grantee: did("provider-a"),
      categories: ["labs"],
      records: [],
      purposes: ["TREAT"],
      notBefore: t,
      expires: t + 30 * DAY,
    },
    next(),
  );
  const grantShort = txAt(
    t,
    "consent.grant",
    "patient",
    {
      grantee: did("provider-a"),
      categories: ["allergies"],
      records: [],
      purposes: ["TREAT"],
      notBefore: t,
      expires: t + HOUR,
    },
    next(),
  );
  chain.block({
    advanceMs: 1000,
    note: "anchor two records; consents: labs for 30 days, allergies for one hour",
    txs: [
      {
        note: "record.anchor obs-1 (labs)",
        signed: txAt(
          t,
          "record.anchor",
          "provider-a",
          { record: "obs-1", patient, category: "labs", format: "Observation", contentHash: CONTENT_HASH },
          next(),
        ),
        expect: "ok",
      },
      {
        note: "record.anchor note-1 (mental-health)",
        signed: txAt(
          t,
          "record.anchor",
          "provider-b",
          {
            record: "note-1",
            patient,
            category: "mental-health",
            format: "DocumentReference",
            contentHash: sha256(utf8("a therapy note (plaintext)")),
          },
          next(),
        ),
        expect: "ok",
      },
      { note: "consent.grant labs to provider-a (TREAT, 30 days)", signed: grantLabs, expect: "ok" },
      { note: "consent.grant allergies to provider-a (TREAT, 1 hour)", signed: grantShort, expect: "ok" },
    ],
  });

  // Block 3: reads.
  t = chain.at(1000);
  const permitted = access(t, "labs", "TREAT", "obs-1");
  chain.block({
    advanceMs: 1000,
    note: "a permitted read, a read for a purpose not granted, a read without consent",
    txs: [
      {
        note: "access.log obs-1 (labs, TREAT): permitted by the labs consent",
        signed: permitted,
        expect: "consent",
      },
      {
        note: "access.log labs for HRESCH: purpose not granted",
        signed: access(t, "labs", "HRESCH"),
        expect: "purpose-not-granted",
      },
      {
        note: "access.log imaging (TREAT): no consent covers the category",
        signed: access(t, "imaging", "TREAT"),
        expect: "category-not-granted",
      },
    ],
  });

  // Block 4: revoke, then denied; replay of the permitted read.
  t = chain.at(1000);
  chain.block({
    advanceMs: 1000,
    note: "the labs consent is revoked; the same read is denied; the earlier read is replayed",
    txs: [
      {
        note: "consent.revoke labs",
        signed: txAt(t, "consent.revoke", "patient", { consent: txId(grantLabs.tx) }, next()),
        expect: "ok",
      },
      {
        note: "access.log labs (TREAT): denied, the consent was revoked",
        signed: access(t, "labs", "TREAT"),
        expect: "consent-revoked",
      },
      {
        note: "the block-3 access.log again: replay (denied and audited)",
        signed: permitted,
        expect: "tx-replayed",
      },
    ],
  });

  // Block 5: two hours later the allergies consent has expired.
  t = chain.at(2 * HOUR);
  chain.block({
    advanceMs: 2 * HOUR,
    note: "two hours later: the allergies consent has expired",
    txs: [
      {
        note: "access.log allergies (TREAT): denied, the consent expired",
        signed: access(t, "allergies", "TREAT"),
        expect: "consent-expired",
      },
    ],
  });

  // Block 6: break-glass.
  t = chain.at(1000);
  chain.block({
    advanceMs: 1000,
    note: "break-glass by provider-a: the emergency scope is reached, a sensitive category is not",
    txs: [
      {
        note: "access.log labs (ETREAT) before any break-glass: denied, no consent names ETREAT",
        signed: access(t, "labs", "ETREAT"),
        expect: "no-consent",
      },
      {
        note: "emergency.declare without durationMs (the default, 24 hours)",
        signed: txAt(
          t,
          "emergency.declare",
          "provider-a",
          { patient, reason: "unconscious on arrival" },
          next(),
        ),
        expect: "ok",
      },
      {
        note: "access.log medications (ETREAT): emergency",
        signed: access(t, "medications", "ETREAT"),
        expect: "emergency",
      },
      {
        note: "access.log note-1 (mental-health, ETREAT): denied, sensitive",
        signed: access(t, "mental-health", "ETREAT", "note-1"),
        expect: "emergency-scope-excluded",
      },
      {
        note: "access.log medications (TREAT): denied, break-glass only serves ETREAT",
        signed: access(t, "medications", "TREAT"),
        expect: "no-consent",
      },
      {
        note: "a second emergency.declare while one is active",
        signed: txAt(
          t,
          "emergency.declare",
          "provider-a",
          { patient, reason: "again", durationMs: HOUR },
          next(),
        ),
        expect: "emergency-active",
      },
    ],
  });

  // Block 7: key recovery.
  t = chain.at(1000);
  const recoverBody = { patient, newKey: did("patient-new-key") };
  chain.block({
    advanceMs: 1000,
    note: "key recovery: one guardian is one short of the threshold, two are enough",
    txs: [
      {
        note: "key.recover signed by guardian-1 only",
        signed: txAt(t, "key.recover", "guardian-1", recoverBody, next()),
        expect: "guardian-threshold-not-met",
      },
      {
        note: "key.recover signed by guardian-1 and guardian-3",
        signed: txAt(t, "key.recover", "guardian-1", recoverBody, next(), [
          signer("guardian-1"),
          signer("guardian-3"),
        ]),
        expect: "ok",
      },
    ],
  });

  // Block 8: the patient uses the new key; the old key no longer works.
  t = chain.at(1000);
  chain.block({
    advanceMs: 1000,
    note: "after recovery the patient signs with the new key; the old key is refused",
    txs: [
      {
        note: "consent.grant signed with the old key: refused",
        signed: txAt(
          t,
          "consent.grant",
          "patient",
          {
            grantee: did("member-a"),
            categories: ["imaging"],
            records: [],
            purposes: ["TREAT"],
            notBefore: t,
            expires: t + DAY,
          },
          next(),
        ),
        expect: "key-not-current",
      },
      {
        note: "consent.grant to member-a signed with the new key",
        signed: txAt(
          t,
          "consent.grant",
          "patient",
          {
            grantee: did("member-a"),
            categories: ["imaging"],
            records: [],
            purposes: ["TREAT"],
            notBefore: t,
            expires: t + DAY,
          },
          next(),
          [{ key: signer("patient-new-key"), identity: patient }],
        ),
        expect: "ok",
      },
      {
        note: "access.log imaging (TREAT) by provider-a: permitted through its member's consent",
        signed: access(t, "imaging", "TREAT"),
        expect: "consent",
      },
    ],
  });

  // Blocks 9 and 10: a copy of a pending transaction re-signed by someone else (same id: the id
  // excludes signatures) is refused without consuming the id or writing an audit row.
  t = chain.at(1000);
  const pending = access(t, "imaging", "TREAT");
  chain.block({
    advanceMs: 1000,
    note: "a copy of provider-a's pending access.log re-signed with provider-b's key: refused, nothing written",
    txs: [
      {
        note: "access.log by provider-a signed with provider-b's key (same id as the genuine one)",
        signed: sign(pending.tx, [{ key: signer("provider-b"), identity: did("provider-a") }]),
        expect: "key-not-current",
      },
    ],
  });
  const refused = chain.blocks[chain.blocks.length - 1] as { writeLog: Json[] };
  if (refused.writeLog.length !== 1) throw new Error("a refused copy writes nothing but seen-prune");
  chain.block({
    advanceMs: 1000,
    note: "the genuine access.log: the refused copy did not consume its id",
    txs: [{ note: "access.log imaging (TREAT) by provider-a, genuine", signed: pending, expect: "consent" }],
  });
  return {
    description:
      "The access scenario: a genesis and a sequence of blocks with the expected result of every transaction and the app hash after every block.",
    chain: CHAIN,
    proposer: did("node-a"),
    genesis: chain.genesisVector(),
    blocks: chain.blocks,
  };
}

// ---------------------------------------------------------------------------------------------
// Helpers and the entry point.

function expectError(action: () => unknown, code: string, what: string): void {
  try {
    action();
  } catch (error) {
    if (codeOf(error) !== code) throw new Error(`${what}: ${codeOf(error)}, not ${code}`);
    return;
  }
  throw new Error(`${what}: no error, expected ${code}`);
}

const BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/** base58btc, written out here so that invalid DIDs can be spelled (did.ts refuses to make them). */
/** The did:key spelling of raw multicodec bytes; asserts it passes the old syntax-only pattern. */
function didOfBytes(bytes: number[]): string {
  const text = `did:key:z${base58Encode(Uint8Array.from(bytes))}`;
  if (!/^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]{44}$/.test(text)) throw new Error(`${text} does not spell z6Mk`);
  return text;
}

function base58Encode(bytes: Uint8Array): string {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  let out = "";
  while (value > 0n) {
    out = BASE58_ALPHABET[Number(value % 58n)] + out;
    value /= 58n;
  }
  for (const byte of bytes) {
    if (byte !== 0) break;
    out = `1${out}`;
  }
  return out;
}

/** JSON text as committed: 2-space indent, one trailing newline. */
function jsonText(value: Json): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Every vector file of test-vectors/ (name → text), generated deterministically. */
export function generateVectors(): Record<string, string> {
  return {
    "keys.json": jsonText(keysFile()),
    "transactions.json": jsonText(transactionsFile()),
    "signatures.json": jsonText(signaturesFile()),
    "merkle.json": jsonText(merkleFile()),
    "blocks.json": jsonText(blocksFile()),
    "scenario.json": jsonText(scenarioFile()),
  };
}
