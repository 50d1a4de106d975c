/**
 * Identities: an actor's DID (the name the ledger knows it by) and the key it signs with now. The two
 * are the same did:key until the identity rotates (key.rotate) or is recovered by its guardians
 * (key.recover): then `did` stays and `key` is the new one. Keys are noble signers by default
 * (browser-safe); any Signer works, e.g. `nodeSigner` of `@medledger/protocol/node` on a server.
 */
import {
  type Did,
  encodeKeyFile,
  generateKeyPair,
  type KeyPair,
  nobleSigner,
  parseDid,
  parseKeyFile,
  type RequestToSign,
  type SignedRequestHeaders,
  type Signer,
  signRequestNow,
} from "@medledger/protocol";

/** An actor: its identity DID and its current signing key. */
export interface Identity {
  /** The DID the ledger names the actor by (the first key's did:key, forever). */
  readonly did: Did;
  /** The identity's current key (its did differs from `did` once the identity rotated). */
  readonly key: Signer;
}

/** Makes a Signer of a 32-byte secret seed (default: nobleSigner). */
export type SignerFactory = (secretKey: Uint8Array) => Signer;

/** A fresh key: its signer and the text of its key file (keep it secret; write it with mode 0600). */
export interface GeneratedKey {
  readonly signer: Signer;
  readonly keyFile: string;
}

/** A fresh random key (Web Crypto randomness). */
export function generateKey(options: { signerFactory?: SignerFactory } = {}): GeneratedKey {
  const keyPair = generateKeyPair();
  return { signer: signerOf(keyPair, options.signerFactory), keyFile: encodeKeyFile(keyPair) };
}

/** A fresh identity whose DID is its new key's did:key. */
export function generateIdentity(options: { signerFactory?: SignerFactory } = {}): Identity {
  return identityOf(generateKey(options).signer);
}

/**
 * The identity whose current key is in key file `text` (throws the protocol's KEY_FILE_INVALID on a
 * malformed file). Pass `did` when the key is not the identity's first (after a rotation or recovery).
 */
export function identityFromKeyFile(
  text: string | Uint8Array,
  options: { did?: Did; signerFactory?: SignerFactory } = {},
): Identity {
  return identityOf(signerOf(parseKeyFile(text), options.signerFactory), options.did);
}

/** The identity `did` (default: the key's own did:key) signing with `key`. */
export function identityOf(key: Signer, did: Did = key.did): Identity {
  return { did: parseDid(did, "did"), key };
}

/** The same identity after it moved to `newKey` (key.rotate or key.recover committed). */
export function rotatedIdentity(identity: Identity, newKey: Signer): Identity {
  return identityOf(newKey, identity.did);
}

/** True when the identity signs with a key other than its first (it rotated or was recovered). */
export function hasRotated(identity: Identity): boolean {
  return identity.did !== identity.key.did;
}

/**
 * The three headers of a signed request (RFC 9421 style, @medledger/protocol signRequest) made by
 * `identity` with its current key, now, with a fresh nonce. `path` is the path and query exactly as
 * sent. `nowMs` overrides the clock (tests, or a clock corrected for the server's skew).
 */
export function signedRequestHeaders(
  identity: Identity,
  request: RequestToSign,
  nowMs?: number,
): SignedRequestHeaders {
  return signRequestNow(request, {
    signer: identity.did,
    key: identity.key,
    ...(nowMs === undefined ? {} : { nowSeconds: Math.floor(nowMs / 1000) }),
  });
}

function signerOf(keyPair: KeyPair, factory: SignerFactory = nobleSigner): Signer {
  const signer = factory(keyPair.secretKey);
  if (signer.did !== keyPair.did) throw new Error("the signer factory made a signer for another key");
  return signer;
}
