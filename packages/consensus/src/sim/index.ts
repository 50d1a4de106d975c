/**
 * @medledger/consensus/sim: the deterministic simulator that runs the production Raft under faults.
 */
export type { Violation } from "./checker.js";
export { Checker } from "./checker.js";
export type { ClusterOptions, FaultRates } from "./cluster.js";
export { Cluster, describe, SimNode } from "./cluster.js";
export { runCommand, usage } from "./command.js";
export { runDemo } from "./demo.js";
export type { RunSeedsOptions, SeedsReport } from "./run.js";
export { formatStats, formatViolation, runSeeds } from "./run.js";
export type { Scenario, SeedResult, SeedStats, SimulateOptions } from "./simulate.js";
export { liveness_steps_max, safety_steps, scenarioOf, simulate } from "./simulate.js";
export { chainHash, entryKey, StateMachine } from "./state-machine.js";
