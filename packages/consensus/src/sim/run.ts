/**
 * Runs many seeds and reports the failing ones; the CLI and the tests share it.
 */
import type { RaftFactory } from "../rawnode.js";
import type { SeedResult, SeedStats } from "./simulate.js";
import { simulate } from "./simulate.js";

/** Options of a multi-seed run. */
export interface RunSeedsOptions {
  readonly firstSeed: number;
  readonly count: number;
  readonly raftFactory?: RaftFactory;
  /** Check outcomes only (see SimulateOptions). */
  readonly outcomesOnly?: boolean;
  /** Stop at the first violation. */
  readonly stopAtFirst?: boolean;
  /** Receives each failing seed's line as soon as it is known. */
  readonly onViolation?: (line: string) => void;
}

/** The outcome of a multi-seed run. */
export interface SeedsReport {
  readonly seeds: number;
  readonly violations: number;
  readonly failures: readonly SeedResult[];
  readonly acknowledged: number;
  /** Totals over every seed. */
  readonly stats: SeedStats;
}

/** One line of totals (deterministic, so a replay prints the same). */
export function formatStats(acknowledged: number, stats: SeedStats): string {
  return (
    `acknowledged=${acknowledged} leaderTerms=${stats.leaderTerms} crashes=${stats.crashes} ` +
    `partitions=${stats.partitions} snapshotsSent=${stats.snapshotsSent} confChanges=${stats.confChanges} ` +
    `leaderRemovals=${stats.leaderRemovals} reads=${stats.readsAnswered} transfers=${stats.transfers} ` +
    `delivered=${stats.messagesDelivered} dropped=${stats.messagesDropped}`
  );
}

/** The line printed for a failing seed. */
export function formatViolation(result: SeedResult): string {
  const v = result.violation;
  if (v === null) return `seed ${result.seed}: ok`;
  return `seed ${result.seed}: step ${v.step}: ${v.invariant}: ${v.detail} (${result.summary})`;
}

/** Runs seeds firstSeed .. firstSeed+count-1. */
export function runSeeds(options: RunSeedsOptions): SeedsReport {
  const failures: SeedResult[] = [];
  let acknowledged = 0;
  let seeds = 0;
  const stats = {
    leaderTerms: 0,
    crashes: 0,
    partitions: 0,
    snapshotsSent: 0,
    confChanges: 0,
    leaderRemovals: 0,
    readsAnswered: 0,
    transfers: 0,
    messagesDelivered: 0,
    messagesDropped: 0,
  };
  for (let seed = options.firstSeed; seed < options.firstSeed + options.count; seed++) {
    const result = simulate(seed, {
      ...(options.raftFactory === undefined ? {} : { raftFactory: options.raftFactory }),
      outcomesOnly: options.outcomesOnly === true,
    });
    seeds++;
    acknowledged += result.acknowledged;
    for (const key of Object.keys(stats) as (keyof SeedStats)[]) stats[key] += result.stats[key];
    if (result.violation !== null) {
      failures.push(result);
      options.onViolation?.(formatViolation(result));
      if (options.stopAtFirst === true) break;
    }
  }
  return { seeds, violations: failures.length, failures, acknowledged, stats };
}
