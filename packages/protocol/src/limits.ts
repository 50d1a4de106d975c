/**
 * Every limit of the protocol, named, in one place. Units come last in names. The relations between
 * limits are asserted when this module loads: a build with inconsistent limits fails at once.
 */

const KiB = 1024;
const MiB = 1024 * KiB;
const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** Longest chain id, in bytes of UTF-8 ([a-z0-9-], at least 1). */
export const chain_id_bytes_max = 64;
/** Longest did:key string accepted anywhere. An ed25519 did:key is 56 characters. */
export const did_bytes_max = 64;
/** Length of a transaction id, block hash, content hash and every other sha256 digest. */
export const hash_bytes = 32;
/** Length of an ed25519 public key. */
export const public_key_bytes = 32;
/** Length of an ed25519 secret seed. */
export const secret_key_bytes = 32;
/** Length of an ed25519 signature. */
export const signature_bytes = 64;

/** Largest encoded signed transaction, in bytes. */
export const tx_bytes_max = 8 * KiB;
/** Most signatures on one transaction (the signer plus co-signing guardians). */
export const tx_signatures_max = 8;
/** Longest a transaction may stay valid: `expires` is at most this far after the block time. */
export const tx_ttl_max_ms = 1 * HOUR_MS;
/** Largest nonce (a transaction's de-duplication number; any unsigned integer up to this). */
export const tx_nonce_max = Number.MAX_SAFE_INTEGER;

/** Longest free-text field (a break-glass reason, a suspension reason), in bytes of UTF-8. */
export const text_bytes_max = 512;
/** Longest record id, in bytes of UTF-8 ([A-Za-z0-9._:-], at least 1). */
export const record_id_bytes_max = 128;
/** Longest record format (e.g. a FHIR resource type), in bytes of UTF-8. */
export const record_format_bytes_max = 64;
/** Most categories named by one consent or one emergency scope. */
export const consent_categories_max = 13;
/** Most record ids named by one consent. */
export const consent_records_max = 64;
/** Most purposes named by one consent. */
export const consent_purposes_max = 6;
/** Longest consent window (expires minus notBefore). */
export const consent_duration_max_ms = 10 * 365 * DAY_MS;
/** Most guardians a patient may name. */
export const guardians_max = 7;
/** Most node keys a member may bind. */
export const member_nodes_max = 8;
/** Most members of a consortium. */
export const members_max = 64;
/** Longest a governance proposal stays open. */
export const proposal_ttl_max_ms = 30 * DAY_MS;
/** Default break-glass duration. */
export const emergency_duration_default_ms = 24 * HOUR_MS;
/** Longest break-glass duration a provider may ask for. */
export const emergency_duration_max_ms = 72 * HOUR_MS;

/** Most transactions in one block. */
export const block_txs_max = 4096;
/** Largest encoded block, in bytes. */
export const block_bytes_max = 8 * MiB;
/** Most levels of a Merkle inclusion proof (enough for 2^32 leaves). */
export const merkle_proof_depth_max = 32;
/** Largest key file, in bytes. */
export const key_file_bytes_max = 4 * KiB;

/**
 * Most DID strings did.ts remembers as having passed the full check (oldest dropped first): bodies,
 * envelopes and genesis name a few DIDs many times over, and a full decode costs ~20x the syntax check.
 */
export const did_cache_entries_max = 16_384;
/** Most public KeyObjects a node:crypto verifier keeps cached (least recently used are dropped). */
export const verifier_key_cache_entries_max = 16_384;
/** Deepest nesting of arrays and maps in any canonical CBOR value the protocol encodes or decodes. */
export const encoding_depth_max = 16;
/** Longest reason code of a transaction result (e.g. "no-consent"), in bytes of UTF-8. */
export const result_code_bytes_max = 64;

// Relations that must hold between the limits.
assertLimit(
  tx_bytes_max * block_txs_max <= 4 * block_bytes_max,
  "a block of maximum transactions is bounded",
);
assertLimit(block_txs_max <= 2 ** merkle_proof_depth_max, "every block's Merkle proof fits the depth limit");
assertLimit(consent_categories_max >= 13, "a consent can name every category");
assertLimit(consent_purposes_max >= 6, "a consent can name every purpose");
assertLimit(emergency_duration_default_ms <= emergency_duration_max_ms, "the default break-glass is allowed");
assertLimit(tx_signatures_max >= guardians_max + 1, "a recovery can carry every guardian's signature");
assertLimit(tx_ttl_max_ms <= DAY_MS, "replay protection keeps at most a day of ids");
assertLimit(
  verifier_key_cache_entries_max >= members_max * member_nodes_max,
  "every node key fits the cache",
);

assertLimit(
  did_cache_entries_max >= members_max * (member_nodes_max + 1),
  "every member and node DID fits the DID cache",
);

function assertLimit(condition: boolean, what: string): void {
  if (!condition) throw new Error(`medledger protocol limits are inconsistent: ${what}`);
}

/** Most live (unrevoked, unexpired) consents a patient may hold for one grantee at a time. */
export const consents_live_per_grantee_max = 32;
/** Most ended (revoked or expired) consents the rules look at to name the reason of a denial. */
export const consents_ended_scan_max = 32;
/** Most rows one paged state query (consents, audit trail, records, break-glasses) returns. */
export const state_page_max = 500;

// Signed HTTP requests (request.ts, after RFC 9421).

/** Largest difference between a signed request's `created` and the verifier's clock, in seconds. */
export const request_skew_max_s = 300;
/** Longest value of each signature header (Content-Digest, Signature-Input, Signature), in bytes. */
export const request_header_bytes_max = 1024;
/** Longest request target (path and query, as sent) a signed request may have, in bytes. */
export const request_target_bytes_max = 8 * KiB;
/** Longest HTTP method name a signed request may have, in bytes. */
export const request_method_bytes_max = 16;
/** Length of a signed request's nonce, in bytes (22 characters of base64url). */
export const request_nonce_bytes = 16;

assertLimit(
  2 * request_skew_max_s * SECOND_MS <= tx_ttl_max_ms,
  "a server remembers request nonces (twice the skew) no longer than transaction ids",
);
assertLimit(
  request_header_bytes_max >= 2 * did_bytes_max + 200,
  "a Signature-Input names a key and a signer",
);
