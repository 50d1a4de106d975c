/**
 * The transaction envelope (types.ts's UnsignedTx and SignedTx): canonical encoding, id, signing,
 * stateless signature checks and the JSON view.
 *
 * The id of a transaction is sha256 of the canonical CBOR of its UnsignedTx, never of its signatures.
 * ed25519 signatures are not unique per message for a signer who chooses to vary them, and a
 * co-signed transaction could carry its signatures in another order: if the id covered signatures,
 * the same signed intent could be resubmitted under a fresh id and slip past the replay window's
 * de-duplication. With the id over the unsigned part, every re-signing of the same intent has the
 * same id, and `nonce` is how one signer sends many otherwise identical transactions.
 *
 * What is signed: utf8("medledger/tx/v1\n") || id. The prefix separates transaction signatures from
 * block signatures (block.ts) and from any other use of the same key.
 */
import { concatBytes, fromHex, sha256, toHex, utf8 } from "./bytes.js";
import { didToPublicKey, parseDid } from "./did.js";
import {
  cborMapValue,
  decodeCanonical,
  encodeCanonical,
  readFixedBytes,
  readList,
  readMap,
  readText,
  readUint,
} from "./encoding.js";
import { ProtocolError } from "./errors.js";
import { bodyFromJson, bodyToJson, parseBody } from "./kinds.js";
import {
  chain_id_bytes_max,
  signature_bytes,
  tx_bytes_max,
  tx_nonce_max,
  tx_signatures_max,
  tx_ttl_max_ms,
} from "./limits.js";
import type { Signer, Verifier } from "./signer.js";
import {
  type Did,
  type Hash,
  type SignedTx,
  TX_KINDS,
  type TxKind,
  type TxSignature,
  type UnsignedTx,
} from "./types.js";

/** The envelope version this code writes and reads. */
export const TX_VERSION = 1;
/** Domain-separation prefix of a transaction's signing payload. */
export const TX_SIGNING_PREFIX: Uint8Array = utf8("medledger/tx/v1\n");
/** A chain id: lowercase letters, digits and '-', 1 to chain_id_bytes_max bytes. */
export const CHAIN_ID_PATTERN = /^[a-z0-9-]+$/;

const UNSIGNED_FIELDS = { required: ["v", "chain", "kind", "signer", "nonce", "expires", "body"] } as const;
const SIGNED_FIELDS = { required: ["tx", "sigs"] } as const;
const SIGNATURE_FIELDS = { required: ["signer", "key", "sig"] } as const;

/** `value` as a chain id; FIELD_INVALID (or FIELD_TOO_LARGE) otherwise. */
export function parseChainId(value: unknown, field = "chain"): string {
  return readText(value, field, { bytesMax: chain_id_bytes_max, pattern: CHAIN_ID_PATTERN });
}

/** `value` as a transaction kind; KIND_UNKNOWN otherwise. */
export function parseTxKind(value: unknown, field = "kind"): TxKind {
  if (typeof value !== "string" || !(TX_KINDS as readonly string[]).includes(value)) {
    throw new ProtocolError("KIND_UNKNOWN", `${field} is not a transaction kind`, { field });
  }
  return value as TxKind;
}

/** Validates a decoded UnsignedTx (envelope and body) and returns a clean copy. */
export function parseUnsignedTx(value: unknown, field = "tx"): UnsignedTx {
  const record = readMap(value, field, UNSIGNED_FIELDS);
  if (record.v !== TX_VERSION) {
    throw new ProtocolError("FIELD_INVALID", `${field}.v must be ${TX_VERSION}`, { field: `${field}.v` });
  }
  const kind = parseTxKind(record.kind, `${field}.kind`);
  return {
    v: TX_VERSION,
    chain: parseChainId(record.chain, `${field}.chain`),
    kind,
    signer: parseDid(record.signer, `${field}.signer`),
    nonce: readUint(record.nonce, `${field}.nonce`, tx_nonce_max),
    expires: readUint(record.expires, `${field}.expires`),
    body: parseBody(kind, record.body, `${field}.body`),
  };
}

/** Validates one decoded TxSignature and returns a clean copy. */
export function parseTxSignature(value: unknown, field: string): TxSignature {
  const record = readMap(value, field, SIGNATURE_FIELDS);
  return {
    signer: parseDid(record.signer, `${field}.signer`),
    key: parseDid(record.key, `${field}.key`),
    sig: readFixedBytes(record.sig, `${field}.sig`, signature_bytes),
  };
}

/** Validates a decoded SignedTx (1 to tx_signatures_max signatures) and returns a clean copy. */
export function parseSignedTx(value: unknown, field = "signed"): SignedTx {
  const record = readMap(value, field, SIGNED_FIELDS);
  const tx = parseUnsignedTx(record.tx, `${field}.tx`);
  const sigs = readList(record.sigs, `${field}.sigs`, tx_signatures_max);
  if (sigs.length === 0) {
    throw new ProtocolError("FIELD_MISSING", `${field}.sigs needs a signature`, { field: `${field}.sigs` });
  }
  return { tx, sigs: sigs.map((sig, index) => parseTxSignature(sig, `${field}.sigs[${index}]`)) };
}

/** Canonical encoding of a validated UnsignedTx (bounded by tx_bytes_max). */
export function encodeUnsignedTx(tx: UnsignedTx): Uint8Array {
  return encodeCanonical(parseUnsignedTx(tx), { bytesMax: tx_bytes_max, field: "tx" });
}

/** The id of a transaction: sha256 of the canonical encoding of its UnsignedTx (signatures excluded). */
export function txId(tx: UnsignedTx): Hash {
  return sha256(encodeUnsignedTx(tx));
}

/** The bytes every signature of the transaction `id` signs: TX_SIGNING_PREFIX || id. */
export function txSigningPayload(id: Hash): Uint8Array {
  return concatBytes(TX_SIGNING_PREFIX, id);
}

/** Who signs: a Signer acting as the identity of its own key, or a key signing for another identity. */
export type TxSigner = Signer | { key: Signer; identity: Did };

/** Signs `unsigned` with each of `signers` in order (the first one must be `unsigned.signer`). */
export function signTx<K extends TxKind>(unsigned: UnsignedTx<K>, signers: readonly TxSigner[]): SignedTx<K> {
  const tx = parseUnsignedTx(unsigned) as UnsignedTx<K>;
  const payload = txSigningPayload(sha256(encodeCanonical(tx, { bytesMax: tx_bytes_max, field: "tx" })));
  const sigs = signers.map((entry): TxSignature => {
    const key = "key" in entry ? entry.key : entry;
    const identity = "key" in entry ? entry.identity : entry.did;
    return { signer: identity, key: key.did, sig: key.sign(payload) };
  });
  const signed: SignedTx<K> = { tx, sigs };
  parseSignedTx(signed); // counts, formats
  if (sigs[0]?.signer !== tx.signer) {
    throw new ProtocolError("FIELD_INVALID", "the first signer must be the transaction's signer", {
      field: "sigs[0].signer",
    });
  }
  return signed;
}

/** Canonical encoding of a validated SignedTx {tx, sigs} (bounded by tx_bytes_max). */
export function encodeSignedTx(signed: SignedTx): Uint8Array {
  return encodeCanonical(parseSignedTx(signed), { bytesMax: tx_bytes_max, field: "signed" });
}

/**
 * The digest of a signed transaction: sha256 of its canonical signed encoding `encodedSignedTx` (as
 * returned by encodeSignedTx, or the bytes a canonical decode accepted). Unlike the id it covers the
 * signatures, so it is the key of any cache of verified signatures: copies of one transaction that
 * carry other signatures share the id but never the digest.
 */
export function signedTxDigest(encodedSignedTx: Uint8Array): Hash {
  return sha256(encodedSignedTx);
}

/** The SignedTx encoded in `bytes`; throws ENCODING_*, FIELD_*, KIND_UNKNOWN or DID_INVALID. */
export function decodeSignedTx(bytes: Uint8Array): SignedTx {
  return parseSignedTx(decodeCanonical(bytes, { bytesMax: tx_bytes_max, field: "signed" }));
}

/** The SignedTx encoded in `bytes` together with its id (one decode, one hash: the mempool's path). */
export function decodeSignedTxWithId(bytes: Uint8Array): { signed: SignedTx; id: Hash } {
  const signed = decodeSignedTx(bytes);
  return { signed, id: txIdOfEncoding(bytes) };
}

/**
 * The id of the transaction whose canonical signed encoding is `encodedSignedTx` (already validated,
 * e.g. by decodeSignedTx or as part of a decoded block): sha256 of the unsigned part, which canonical
 * CBOR embeds byte for byte, so nothing is encoded again.
 */
export function txIdOfEncoding(encodedSignedTx: Uint8Array): Hash {
  const range = cborMapValue(encodedSignedTx, 0, "tx");
  if (range === null)
    throw new ProtocolError("FIELD_MISSING", "signed.tx is required", { field: "signed.tx" });
  return sha256(encodedSignedTx.subarray(range[0], range[1]));
}

/**
 * Checks every signature statelessly and returns the transaction's id: each signature verifies under
 * its own `key`, the first is by the envelope's signer, no identity and no key signs twice (`knownId`,
 * when the caller has the id from the encoding, saves encoding the transaction again). Whether
 * each key belongs to its identity is the rules' (stateful) business. Throws SIGNATURE_INVALID.
 */
export function verifyTxSignatures(signed: SignedTx, verifier: Verifier, knownId?: Hash): Hash {
  const id = knownId ?? txId(signed.tx);
  const payload = txSigningPayload(id);
  if (signed.sigs.length === 0 || signed.sigs.length > tx_signatures_max) {
    throw new ProtocolError("SIGNATURE_INVALID", `a transaction has 1 to ${tx_signatures_max} signatures`, {
      field: "sigs",
    });
  }
  if (signed.sigs[0]?.signer !== signed.tx.signer) {
    throw new ProtocolError("SIGNATURE_INVALID", "the first signature is not by the transaction's signer", {
      field: "sigs[0].signer",
    });
  }
  const signers = new Set<string>();
  const keys = new Set<string>();
  signed.sigs.forEach((sig, index) => {
    const field = `sigs[${index}]`;
    if (signers.has(sig.signer) || keys.has(sig.key)) {
      throw new ProtocolError("SIGNATURE_INVALID", "an identity or key signs twice", { field });
    }
    signers.add(sig.signer);
    keys.add(sig.key);
    if (!verifier.verify(didToPublicKey(sig.key, `${field}.key`), payload, sig.sig)) {
      throw new ProtocolError("SIGNATURE_INVALID", "a signature does not verify", { field: `${field}.sig` });
    }
  });
  return id;
}

/** Throws CHAIN_MISMATCH unless the transaction belongs to chain `chain`. */
export function checkTxChain(tx: UnsignedTx | SignedTx, chain: string): void {
  const unsigned = "sigs" in tx ? tx.tx : tx;
  if (unsigned.chain !== chain) {
    throw new ProtocolError(
      "CHAIN_MISMATCH",
      `the transaction is for chain ${unsigned.chain}, not ${chain}`,
      {
        field: "tx.chain",
      },
    );
  }
}

/** True when a block of time `time` may include the transaction: time <= expires <= time + tx_ttl_max_ms. */
export function isTxLive(tx: UnsignedTx, time: number): boolean {
  return time <= tx.expires && tx.expires - time <= tx_ttl_max_ms;
}

/** The JSON view of an UnsignedTx: byte strings in the body as lowercase hex. */
export interface UnsignedTxJson {
  v: 1;
  chain: string;
  kind: TxKind;
  signer: Did;
  nonce: number;
  expires: number;
  body: unknown;
}

/** The JSON view of a TxSignature. */
export interface TxSignatureJson {
  signer: Did;
  key: Did;
  /** 64 bytes as lowercase hex. */
  sig: string;
}

/** The JSON view of a SignedTx. */
export interface SignedTxJson {
  tx: UnsignedTxJson;
  sigs: TxSignatureJson[];
}

/** The JSON view of an UnsignedTx (validated first). */
export function unsignedTxToJson(tx: UnsignedTx): UnsignedTxJson {
  const parsed = parseUnsignedTx(tx);
  return { ...parsed, body: bodyToJson(parsed.kind, parsed.body) };
}

/** The UnsignedTx of a JSON view; throws FIELD_*, KIND_UNKNOWN, DID_INVALID or ENCODING_TOO_LARGE. */
export function unsignedTxFromJson(json: unknown, field = "tx"): UnsignedTx {
  const record = readMap(json, field, UNSIGNED_FIELDS);
  const kind = parseTxKind(record.kind, `${field}.kind`);
  const tx = parseUnsignedTx({ ...record, body: bodyFromJson(kind, record.body, `${field}.body`) }, field);
  encodeCanonical(tx, { bytesMax: tx_bytes_max, field }); // same size bound as the binary form
  return tx;
}

/** The JSON view of a SignedTx (validated first). */
export function txToJson(signed: SignedTx): SignedTxJson {
  const parsed = parseSignedTx(signed);
  return {
    tx: unsignedTxToJson(parsed.tx),
    sigs: parsed.sigs.map((sig) => ({ signer: sig.signer, key: sig.key, sig: toHex(sig.sig) })),
  };
}

/** The SignedTx of a JSON view (lossless inverse of txToJson, same bounds as decodeSignedTx). */
export function txFromJson(json: unknown): SignedTx {
  const field = "signed";
  const record = readMap(json, field, SIGNED_FIELDS);
  const tx = unsignedTxFromJson(record.tx, `${field}.tx`);
  const sigs = readList(record.sigs, `${field}.sigs`, tx_signatures_max).map((entry, index) => {
    const sigField = `${field}.sigs[${index}]`;
    const sig = readMap(entry, sigField, SIGNATURE_FIELDS);
    return { ...sig, sig: fromHex(sig.sig, { field: `${sigField}.sig`, length: signature_bytes }) };
  });
  const signed = parseSignedTx({ tx, sigs }, field);
  encodeSignedTx(signed); // same size bound as the binary form
  return signed;
}
