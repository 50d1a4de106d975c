/**
 * Every limit of the consensus core, named, in one place. Units come last in names. The relations
 * between limits are asserted when this module loads: a build with inconsistent limits fails at once.
 */
import { assert } from "./errors.js";

const KiB = 1024;
const MiB = 1024 * KiB;

/** Most voters in one configuration. */
export const voters_max = 9;
/** Most learners in one configuration. */
export const learners_max = 9;
/** Longest node id, in UTF-16 code units (a did:key is 56). */
export const node_id_length_max = 128;

/** Longest election timeout, in ticks (the randomized timeout is at most twice this). */
export const election_ticks_max = 10_000;
/** Shortest election timeout, in ticks. */
export const election_ticks_min = 2;

/** Largest payload of one proposal, in bytes. */
export const proposal_bytes_max = 1 * MiB;
/** Fixed cost counted for every entry on top of its payload, in bytes (bounds empty entries too). */
export const entry_overhead_bytes = 32;
/** Largest total of entries in one append message, in bytes (one entry is always allowed). */
export const message_entries_bytes_max = 4 * MiB;
/** Most append messages in flight to one follower. */
export const inflight_messages_max = 4096;
/** Most bytes of entries in flight to one follower. */
export const inflight_bytes_max = 64 * MiB;
/** Most bytes of proposed but uncommitted entries a leader accepts. */
export const uncommitted_entries_bytes_max = 256 * MiB;
/** Most bytes of committed entries handed out in one Ready. */
export const ready_committed_entries_bytes_max = 64 * MiB;

/** Most entries in one append message. */
export const message_entries_max = 65_536;
/** Longest ReadIndex context, in UTF-16 code units. */
export const read_context_length_max = 256;
/** Largest snapshot carried in one message, in bytes. */
export const snapshot_bytes_max = 1024 * MiB;

/** Election timeouts a leader waits for a follower to answer a snapshot before sending it again. */
export const snapshot_wait_election_timeouts_max = 2;

/** Most ReadIndex requests a leader holds while it confirms its leadership. */
export const read_index_requests_max = 4096;
/** Most read states buffered for the driver before it takes a Ready. */
export const read_states_max = 4096;
/** Most messages buffered for the driver before it takes a Ready (each list). */
export const outbox_messages_max = 65_536;

assert(election_ticks_min >= 2, "an election timeout must exceed one heartbeat tick");
assert(election_ticks_max > election_ticks_min, "election tick bounds must be ordered");
assert(voters_max % 2 === 1, "an odd voter maximum wastes no vote");
assert(
  proposal_bytes_max + entry_overhead_bytes <= message_entries_bytes_max,
  "a proposal must fit in one message",
);
assert(message_entries_bytes_max <= inflight_bytes_max, "one message must fit in the in-flight window");
assert(inflight_bytes_max <= uncommitted_entries_bytes_max, "the window must fit in the uncommitted budget");
assert(message_entries_bytes_max <= ready_committed_entries_bytes_max, "a Ready must carry a full message");
assert(message_entries_max * entry_overhead_bytes >= message_entries_bytes_max / 2, "count and bytes agree");
assert(read_index_requests_max <= read_states_max, "every pending read must fit in the read states");
assert(inflight_messages_max * (voters_max + learners_max) <= outbox_messages_max * 2, "outbox too small");
