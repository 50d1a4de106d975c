/**
 * Every limit of the node package, named, in one place. Units come last in names. The relations between
 * limits are asserted when this module loads: a build with inconsistent limits fails at once.
 */

const KiB = 1024;
const MiB = 1024 * KiB;
const SECOND_MS = 1000;

/** Longest chain id, in bytes ([a-z0-9-], at least 1); the same bound as the protocol's. */
export const chain_id_bytes_max = 64;
/** Length of an ed25519 secret seed and of an ed25519 public key. */
export const ed25519_key_bytes = 32;

/** Most bytes of a frame's unsigned-varint length prefix (7 bits each: lengths below 256 MiB). */
export const frame_prefix_bytes_max = 4;
/**
 * Largest direct (Raft) frame, in bytes. One Raft append carries at most one block: this must stay above
 * the protocol's `block_bytes_max` (8 MiB) plus the Raft envelope.
 */
export const direct_frame_bytes_max = 12 * MiB;
/** Most frames queued for one peer on the direct channel; beyond it new frames are dropped and counted. */
export const direct_queue_frames_max = 16_384;
/** Most bytes queued for one peer on the direct channel. */
export const direct_queue_bytes_max = 32 * MiB;
/** Most bytes queued on the direct channel for all peers together. */
export const direct_queues_total_bytes_max = 256 * MiB;
/** Most bytes handed to one `stream.send()` when a batch of queued frames is written. */
export const direct_write_batch_bytes_max = 256 * KiB;
/** Most inbound direct streams one connection may hold open at once. */
export const direct_inbound_streams_max = 4;
/** First wait before a failed direct stream is reopened; it doubles up to the maximum. */
export const direct_reopen_backoff_initial_ms = 250;
/** Longest wait before a failed direct stream is reopened. */
export const direct_reopen_backoff_max_ms = 5 * SECOND_MS;

/** Largest request payload on the request/response channel, in bytes. */
export const request_bytes_max = 64 * KiB;
/** Largest response payload on the request/response channel, in bytes (a snapshot chunk, a block). */
export const response_bytes_max = 16 * MiB;
/** Longest time a caller may give a request. */
export const request_timeout_max_ms = 120 * SECOND_MS;
/** Longest an inbound request stream may stay open before it is aborted. */
export const request_serve_timeout_max_ms = 60 * SECOND_MS;
/** Most requests this node may have in flight at once. */
export const requests_in_flight_max = 256;
/** Most inbound request streams one connection may hold open at once. */
export const request_inbound_streams_max = 8;
/** Most outbound request streams one connection may hold open at once. */
export const request_outbound_streams_max = 32;

/** Largest gossip message (a batch of signed transactions), in bytes. */
export const gossip_message_bytes_max = 1 * MiB;
/** Largest gossipsub RPC accepted from a peer, in bytes (one message plus control traffic). */
export const gossip_rpc_bytes_max = 2 * MiB;
/** Most bytes gossipsub may buffer for one outbound peer stream before it gives up on that stream. */
export const gossip_outbound_buffer_bytes_max = 16 * MiB;
/** How often the network checks that every connected member's node is a gossip subscriber. */
export const gossip_health_interval_ms = 2 * SECOND_MS;
/**
 * Checks in a row a connected member's node may be missing from the gossip subscribers before the
 * connection is closed and dialled again (gossipsub does not reopen a lost stream on a live connection:
 * a node paused for seconds then heard no gossip for good, so its followers' transactions never came).
 */
export const gossip_health_misses_max = 3;

/** Most peers (nodes) this node tracks: members_max (64) times member_nodes_max (8). */
export const peers_max = 512;
/** Most connections libp2p keeps open at once. */
export const connections_max = 2 * peers_max;
/** Longest a dial (TCP, Noise, Yamux, protocol negotiation) may take. */
export const dial_timeout_ms = 5 * SECOND_MS;
/** First wait before a configured peer is redialled; it doubles up to the maximum. */
export const redial_backoff_initial_ms = 500;
/** Longest wait before a configured peer is redialled. */
export const redial_backoff_max_ms = 10 * SECOND_MS;
/** How often the redialler looks for configured peers that are not connected. */
export const redial_interval_ms = 500;
/** How long a peer that broke the wire protocol is refused before it may connect again. */
export const misbehaving_peer_ban_ms = 10 * SECOND_MS;
/** Most listen addresses and most configured peers to dial. */
export const addresses_max = 64;

/** Most rows one transaction id may have in the chain that a lookup reads (copies and replays). */
export const tx_copies_max = 16;

// Relations that must hold between the limits.
assertLimit(direct_frame_bytes_max >= 8 * MiB + 64 * KiB, "a direct frame carries a full block");
assertLimit(response_bytes_max >= 8 * MiB + 64 * KiB, "a response carries a full block");
const frame_length_max = 2 ** (7 * frame_prefix_bytes_max) - 1;
assertLimit(direct_frame_bytes_max <= frame_length_max, "a direct frame length fits its prefix");
assertLimit(response_bytes_max + 1 <= frame_length_max, "a response length fits its prefix");
assertLimit(request_bytes_max <= frame_length_max, "a request length fits its prefix");
assertLimit(direct_queue_bytes_max >= direct_frame_bytes_max, "a queue holds at least one maximal frame");
assertLimit(
  direct_queues_total_bytes_max >= direct_queue_bytes_max,
  "the total queue holds one peer's queue",
);
assertLimit(direct_write_batch_bytes_max <= direct_queue_bytes_max, "a write batch fits a queue");
assertLimit(direct_reopen_backoff_initial_ms <= direct_reopen_backoff_max_ms, "reopen backoff is ordered");
assertLimit(redial_backoff_initial_ms <= redial_backoff_max_ms, "redial backoff is ordered");
assertLimit(gossip_rpc_bytes_max >= gossip_message_bytes_max + 64 * KiB, "an RPC carries a full message");
assertLimit(gossip_outbound_buffer_bytes_max >= gossip_rpc_bytes_max, "the gossip buffer holds one RPC");
assertLimit(connections_max >= peers_max, "every peer can be connected");
assertLimit(misbehaving_peer_ban_ms > redial_backoff_initial_ms, "a ban outlasts one redial");

function assertLimit(condition: boolean, what: string): void {
  if (!condition) throw new Error(`medledger node limits are inconsistent: ${what}`);
}

// Storage (SQLite chain database).

/** How long a SQLite statement waits for a lock held by another connection before it fails. */
export const sqlite_busy_timeout_ms = 5 * SECOND_MS;
/**
 * Size the chain database's WAL file is cut back to after a checkpoint. A peer's state export holds a
 * read snapshot for up to a transfer (the WAL cannot be reset meanwhile); without a limit the file kept
 * its largest size (measured: 193 MB on one chaos node after minutes of snapshot installs).
 */
export const sqlite_wal_bytes_max = 64 * MiB;
/** Most recent Raft entries (with their data) kept in memory by the SQLite Raft storage. */
export const raft_entry_cache_entries_max = 4096;
/** Most bytes of entry data kept in memory by the SQLite Raft storage's entry cache. */
export const raft_entry_cache_bytes_max = 64 * MiB;
/** Most recent Raft entry terms kept in memory (numbers only: the hot path of term()). */
export const raft_term_cache_entries_max = 65_536;
/** Largest Raft snapshot data kept in the chain database (metadata only: the state moves in chunks). */
export const raft_snapshot_data_bytes_max = 1 * MiB;
/** Most blocks one range query returns. */
export const blocks_range_max = 256;
/** Most bytes of encoded blocks one range query returns (always at least one block). */
export const blocks_range_bytes_max = 12 * MiB;
/** Most decompressed block bodies kept in memory (recent blocks: transactions read after commit, catch-up). */
export const block_body_cache_entries_max = 64;
/** Most bytes of decompressed block bodies kept in memory. */
export const block_body_cache_bytes_max = 32 * MiB;
/** Most rows each read cache of the state store keeps (identities, patients, interned values...). */
export const state_cache_rows_max = 65_536;
/** Most consents of one patient the consent cache keeps (beyond it, queries go to SQLite). */
export const state_cache_consents_max = 64;
/** Smallest chunk of an exported state a caller may ask for, in bytes. */
export const state_chunk_bytes_min = 64 * KiB;
/** Largest chunk of an exported state, in bytes (one chunk travels in one response). */
export const state_chunk_bytes_max = 8 * MiB;
/** Largest encoded row of a state table, in bytes (a consent naming 64 records is about 10 KiB). */
export const state_row_bytes_max = 32 * KiB;
/** Most chunks one state import accepts. */
export const state_import_chunks_max = 1_000_000;

assertLimit(raft_entry_cache_bytes_max >= direct_frame_bytes_max, "the entry cache holds a maximal entry");
assertLimit(raft_term_cache_entries_max >= raft_entry_cache_entries_max, "terms outlive their entries");
assertLimit(blocks_range_bytes_max >= 8 * MiB + 64 * KiB, "a block range carries a full block");
assertLimit(blocks_range_bytes_max + 64 * KiB <= response_bytes_max, "a block range fits one response");
assertLimit(state_chunk_bytes_min <= state_chunk_bytes_max, "state chunk bounds are ordered");
assertLimit(state_chunk_bytes_max + 64 * KiB <= response_bytes_max, "a state chunk fits one response");
assertLimit(state_row_bytes_max * 2 <= state_chunk_bytes_min, "a chunk holds at least two maximal rows");

// Vault (off-chain PHI).

/** Largest plaintext of one vault record, in bytes. */
export const vault_record_bytes_max = 4 * MiB;
/** Largest vault master key file, in bytes (a JSON object of about 100 bytes). */
export const vault_key_file_bytes_max = 1 * KiB;
/** Times erase retries a WAL checkpoint that a reader kept from truncating the WAL before it gives up. */
export const vault_checkpoint_attempts_max = 3;
/**
 * How long one of those checkpoints waits for readers of other connections (the vault has none of its
 * own): short, because better-sqlite3 blocks the event loop while it waits.
 */
export const vault_checkpoint_busy_timeout_ms = 200;

assertLimit(
  vault_record_bytes_max + 64 * KiB <= 1_000_000_000,
  "a sealed vault record fits one SQLite value (SQLITE_MAX_LENGTH)",
);

// HTTP API.

/** Largest request body the API accepts on any route but POST /records, in bytes (a tx is at most 8 KiB). */
export const api_body_bytes_max = 64 * KiB;
/** Largest POST /records body, in bytes: the anchor and the record's content in base64. */
export const api_record_body_bytes_max = 8 * MiB;
/** Most transactions in one POST /txs/batch. */
export const api_batch_txs_max = 1024;
/** Largest POST /txs/batch body, in bytes (1,024 transactions of about 1 KiB in hex fit). */
export const api_batch_body_bytes_max = 4 * MiB;
/** Longest a caller may ask POST /txs?wait=true to wait for a commit. */
export const api_wait_timeout_max_ms = 30 * SECOND_MS;
/** How long POST /records and GET /records/{id} wait for their transaction to commit. */
export const api_commit_wait_ms = 15 * SECOND_MS;
/** Most blocks one GET /blocks page lists (headers only). */
export const api_blocks_page_max = 100;
/** Most rows one page of a patient's consents or audit trail holds (the state's own page bound). */
export const api_patient_page_max = 500;
/** Raft entries the applied index may trail the commit index while the node still answers /ready. */
export const api_ready_lag_entries_max = 16;
/** Most (signer, nonce) pairs of signed requests remembered to refuse replays. */
export const api_nonce_cache_entries_max = 100_000;
/** Most server-sent event streams open at once. */
export const api_event_streams_max = 256;
/** Most bytes buffered for one event stream before the slow client is dropped. */
export const api_event_stream_buffer_bytes_max = 1 * MiB;
/** Interval between keep-alive comments on an event stream. */
export const api_event_heartbeat_ms = 15 * SECOND_MS;
/** Requests one client address may make per rate-limit window. */
export const api_rate_limit_requests_max = 600;
/** The rate-limit window. */
export const api_rate_limit_window_ms = 60 * SECOND_MS;
/** Most submit times remembered to measure submit-to-commit latency. */
export const api_latency_tracked_txs_max = 16_384;
/**
 * How long after its commit an access.log may be presented again to GET /records/{id} (a retry after a
 * lost response). Older ones must be logged anew, so a revoked consent stops disclosure at once.
 */
export const api_access_log_reuse_max_ms = 60 * SECOND_MS;
/** Event-loop delay beyond which the API sheds load (503 OVERLOADED). */
export const api_event_loop_delay_max_ms = 1 * SECOND_MS;

assertLimit(api_body_bytes_max >= 3 * 8 * KiB, "a JSON transaction fits the body limit");
assertLimit(api_patient_page_max <= 500, "a patient page fits the state's page bound");
assertLimit(api_blocks_page_max <= blocks_range_max, "a block page fits one range query");
assertLimit(api_commit_wait_ms <= api_wait_timeout_max_ms, "the API's own waits are within the maximum");
assertLimit(api_record_body_bytes_max >= api_body_bytes_max, "a record body may be larger than others");
/**
 * How long the nonce of a signed request is remembered: at least the whole window in which the request
 * verifier accepts its `created` time (both directions of the clock skew), so a replay is always caught.
 */
export const api_request_nonce_ttl_ms = 15 * 60 * SECOND_MS;
/** Length of the admin token, in random bytes (written as hex to admin.token). */
export const api_admin_token_bytes = 32;
assertLimit(
  api_record_body_bytes_max >= Math.ceil(vault_record_bytes_max / 3) * 4 + api_body_bytes_max,
  "a POST /records body carries a maximal record in base64 and its anchor",
);
