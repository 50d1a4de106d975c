/**
 * The node's libp2p identity. The libp2p key is derived from the node's ed25519 secret seed, so the peer
 * id and the node's did:key name the same public key; these helpers convert between the two forms.
 */

import { generateKeyPairFromSeed, publicKeyFromRaw } from "@libp2p/crypto/keys";
import type { Ed25519PrivateKey, PeerId } from "@libp2p/interface";
import { peerIdFromPublicKey as libp2pPeerIdFromPublicKey, peerIdFromString } from "@libp2p/peer-id";
import { NodeError } from "../errors.js";
import { ed25519_key_bytes } from "../limits.js";

/** Derives the libp2p private key from the node's 32-byte ed25519 secret seed. */
export async function privateKeyFromSeed(seed: Uint8Array): Promise<Ed25519PrivateKey> {
  if (!(seed instanceof Uint8Array) || seed.byteLength !== ed25519_key_bytes) {
    throw new NodeError("OPTIONS_INVALID", `the node seed must be ${ed25519_key_bytes} bytes`);
  }
  return generateKeyPairFromSeed("Ed25519", seed);
}

/** The libp2p peer id (base58btc string) that names a 32-byte ed25519 public key. */
export function peerIdFromPublicKey(publicKey: Uint8Array): string {
  if (!(publicKey instanceof Uint8Array) || publicKey.byteLength !== ed25519_key_bytes) {
    throw new NodeError("PEER_INVALID", `an ed25519 public key must be ${ed25519_key_bytes} bytes`);
  }
  return libp2pPeerIdFromPublicKey(publicKeyFromRaw(publicKey)).toString();
}

/** The 32-byte ed25519 public key a peer id string names; throws PEER_INVALID for anything else. */
export function publicKeyFromPeerId(peerId: string): Uint8Array {
  return ed25519PublicKeyOf(parsePeerId(peerId));
}

/** Parses a peer id string into a libp2p PeerId of an ed25519 key; throws PEER_INVALID otherwise. */
export function parsePeerId(peerId: string): PeerId {
  let parsed: PeerId;
  try {
    parsed = peerIdFromString(peerId);
  } catch (error) {
    throw new NodeError("PEER_INVALID", "not a libp2p peer id", { cause: error });
  }
  if (parsed.type !== "Ed25519") throw new NodeError("PEER_INVALID", "not an ed25519 peer id");
  return parsed;
}

/** The raw ed25519 public key of a PeerId, or undefined when it is not an ed25519 peer id. */
export function ed25519PublicKeyOrUndefined(peerId: PeerId): Uint8Array | undefined {
  return peerId.type === "Ed25519" ? peerId.publicKey.raw : undefined;
}

function ed25519PublicKeyOf(peerId: PeerId): Uint8Array {
  const publicKey = ed25519PublicKeyOrUndefined(peerId);
  if (publicKey === undefined) throw new NodeError("PEER_INVALID", "not an ed25519 peer id");
  return publicKey;
}
