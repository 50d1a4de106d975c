/**
 * Limits of the ledger (the replicated state machine around the consensus core). Re-exported by the
 * package's limits module; relations asserted at load.
 */
import { proposal_bytes_max } from "@medledger/consensus";
import { limits as protocolLimits } from "@medledger/protocol";

const { block_bytes_max, block_txs_max, tx_bytes_max } = protocolLimits;

const KiB = 1024;
const MiB = 1024 * KiB;

/** Most entries one Raft message may carry on the wire. */
export const raft_message_entries_max = 4096;
/** Longest ReadIndex context string on the wire. */
export const raft_context_bytes_max = 256;
/** Largest encoded block the leader proposes: one Raft proposal, less a margin. */
export const ledger_block_bytes_max = Math.min(block_bytes_max, proposal_bytes_max) - 4 * KiB;
/** Most times the leader shrinks a block whose encoding (with results) is over the proposal limit. */
export const block_fit_attempts_max = 8;
/** The share of the fitting estimate a shrunk block keeps (room for results of other sizes). */
export const block_fit_margin = 0.9;
/** How long a leader waits after the consensus core refused a block before it builds another. */
export const propose_backoff_ms = 100;
/**
 * Most transactions the leader puts in one block. It bounds the leader's synchronous turn (applying a
 * block, then executing the next one) well under the election timeout: with 2,048, a backlog after a
 * healed partition made blocks of 1,755 transactions that stalled each leader past its followers'
 * election timeout (measured by the chaos suite: a new election every 2 s, 21 blocks in 2 minutes).
 */
export const ledger_block_txs_max = Math.min(block_txs_max, 512);
/** Most transactions waiting in the mempool. */
export const mempool_txs_max = 50_000;
/** Most bytes of transactions waiting in the mempool. */
export const mempool_bytes_max = 64 * MiB;
/** Most copies of one transaction id (differing only in signatures) waiting at once. */
export const mempool_copies_per_id_max = 4;
/** Most signed encodings remembered as verified (their signatures checked once), by digest. */
export const verified_ids_max = 200_000;
/**
 * Most blocks kept decoded after this node checked (appended) or built them, until they are applied:
 * applying them decodes and verifies nothing again. Normally a handful wait; the bound caps memory.
 */
export const checked_blocks_max = 256;
/**
 * Most a peer's Raft term may exceed ours. Honest terms grow by one per election (PreVote keeps a
 * partitioned node from inflating its own), so this is never reached honestly; without it one message
 * with a huge term moves every node to a term whose successor no decoder accepts, and elections end.
 */
export const raft_term_lead_max = 2 ** 20;
/** Most transactions in one gossip batch. */
export const gossip_batch_txs_max = 512;
/** Longest a transaction waits to be gossiped in a batch. */
export const gossip_batch_delay_ms = 5;
/** How often a follower offers again the transactions that waited that long in its mempool. */
export const regossip_interval_ms = 2_000;
/** Most pending transactions re-gossiped after a leader change or per re-gossip interval. */
export const regossip_txs_max = 2_048;
/**
 * A transaction is offered again after regossip_interval_ms x 2^k since its last offer (k: offers so
 * far, at most this): a backlog is not offered over and over while no leader can take it.
 */
export const regossip_backoff_doublings_max = 5;
/** Most state exports this node serves at once. */
export const state_sessions_max = 4;
/** How long an idle state export stays open. */
export const state_session_idle_ms = 30_000;
/** Most chunks one state transfer may take (at 1 MiB each: 4 GiB of state). */
export const state_transfer_chunks_max = 4096;
/** Longest one state-transfer request may take. */
export const state_request_timeout_ms = 30_000;
/** Applied entries between two Raft snapshots (each compacts the log through it). */
export const snapshot_every_entries_default = 10_000;
/** First wait before a failed state transfer is retried; it doubles up to the maximum. */
export const state_retry_initial_ms = 200;
/** Longest wait before a failed state transfer is retried. */
export const state_retry_max_ms = 5_000;
/** How often a node whose disk is full tries its writes again. */
export const storage_retry_ms = 1_000;
/** How far in the future a block's time may be ahead of a follower's clock. */
export const block_time_drift_max_ms = 30_000;

assertLimit(ledger_block_bytes_max >= 64 * tx_bytes_max, "a block holds at least 64 maximal transactions");
assertLimit(
  mempool_bytes_max >= mempool_txs_max * 512,
  "the mempool's bytes fit its count at 512 bytes each",
);
assertLimit(verified_ids_max >= mempool_txs_max, "every mempool transaction can be remembered as verified");
assertLimit(regossip_txs_max <= mempool_txs_max, "re-gossip is bounded by the mempool");

function assertLimit(condition: boolean, what: string): void {
  if (!condition) throw new Error(`medledger ledger limits are inconsistent: ${what}`);
}
