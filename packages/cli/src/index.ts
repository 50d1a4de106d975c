/** @medledger/cli: the `medledger` command line (see main.ts for the binary). */
export { buildProgram, EXIT } from "./program.js";
