/** @medledger/cli: the `medledger` command line (see main.ts for the binary). */
export { resolveNodeOptions } from "./config.js";
export { describeError, EXIT, EXIT_CODES_HELP } from "./exit.js";
export { buildProgram } from "./program.js";
