/**
 * Every default and bound of the client, named, in one place; their relations to the protocol's limits
 * are asserted when this module loads.
 */
import { limits } from "@medledger/protocol";

/** How long a built transaction stays valid by default: well inside tx_ttl_max_ms, so a node whose clock runs ahead still takes it. */
export const tx_ttl_default_ms = 10 * 60_000;
/** Longest a whole HTTP exchange (headers and body) may take by default. */
export const request_timeout_default_ms = 30_000;
/** Extra time the client allows on top of the server's own wait (POST /txs?wait=true). */
export const request_wait_margin_ms = 5_000;
/** The server's longest wait for a commit (POST /txs `timeoutMs` maximum). */
export const submit_wait_max_ms = 30_000;
/** Most transactions in one submitBatch (the API's api_batch_txs_max). */
export const batch_txs_max = 1024;
/** Default wait of submit({ wait: true }) and commit(). */
export const submit_wait_default_ms = 10_000;
/** waitForCommit: first and largest pause between two GET /txs/{id}. */
export const commit_poll_initial_ms = 50;
export const commit_poll_max_ms = 1_000;
/** waitForCommit's default overall timeout. */
export const commit_wait_default_ms = 30_000;
/** Longest line of an event stream, in characters (a block event is about 200). */
export const event_line_chars_max = 64 * 1024;
/** Largest data of one event, in characters. */
export const event_data_chars_max = 256 * 1024;
/** Largest JSON answer the client reads (a full block of maximum size is 8 MiB as binary). */
export const response_chars_max = 32 * 1024 * 1024;

assertLimit(tx_ttl_default_ms < limits.tx_ttl_max_ms, "the default TTL is inside the protocol's maximum");
assertLimit(
  limits.tx_ttl_max_ms - tx_ttl_default_ms >= 10 * 60_000,
  "the default TTL leaves ten minutes of clock skew",
);
assertLimit(submit_wait_default_ms <= submit_wait_max_ms, "the default wait is one the server takes");
assertLimit(commit_poll_initial_ms <= commit_poll_max_ms, "polling backs off upwards");
assertLimit(event_line_chars_max <= event_data_chars_max, "a line fits in an event");

function assertLimit(condition: boolean, what: string): void {
  if (!condition) throw new Error(`medledger client limits are inconsistent: ${what}`);
}
