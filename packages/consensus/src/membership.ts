/**
 * Single-server membership changes. A configuration takes effect on every node as soon as its entry
 * is in that node's log (Ongaro's thesis §4.1), and reverts if the entry is truncated; see README.
 */
import { RaftError } from "./errors.js";
import { learners_max, voters_max } from "./limits.js";
import type { ConfChange, ConfState, NodeId } from "./types.js";

/** The configuration that results from applying one change (no validation). */
export function applyConfChange(confState: ConfState, change: ConfChange): ConfState {
  const voters = confState.voters.filter((id) => id !== change.nodeId);
  const learners = confState.learners.filter((id) => id !== change.nodeId);
  if (change.type === "addVoter") voters.push(change.nodeId);
  if (change.type === "addLearner") learners.push(change.nodeId);
  return { voters: voters.sort(), learners: learners.sort() };
}

/** Throws CONF_CHANGE_INVALID unless the change makes sense for the configuration. */
export function validateConfChange(confState: ConfState, change: ConfChange): void {
  const isVoter = confState.voters.includes(change.nodeId);
  const isLearner = confState.learners.includes(change.nodeId);
  const fail = (message: string): never => {
    throw new RaftError("CONF_CHANGE_INVALID", message);
  };
  if (change.nodeId.length === 0) fail("a conf change needs a node id");
  if (change.type === "addVoter" && isVoter) fail(`${change.nodeId} is already a voter`);
  if (change.type === "addLearner" && isLearner) fail(`${change.nodeId} is already a learner`);
  if (change.type === "removeNode" && !isVoter && !isLearner) fail(`${change.nodeId} is not a member`);
  const next = applyConfChange(confState, change);
  if (next.voters.length === 0) fail("a configuration needs at least one voter");
  if (next.voters.length > voters_max) fail("too many voters");
  if (next.learners.length > learners_max) fail("too many learners");
}

/** Whether two configurations are equal (both are kept sorted). */
export function confStateEqual(a: ConfState, b: ConfState): boolean {
  return sameIds(a.voters, b.voters) && sameIds(a.learners, b.learners);
}

function sameIds(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The configuration in force after each conf change entry still in the log. */
export interface ConfPoint {
  readonly index: number;
  readonly confState: ConfState;
}
