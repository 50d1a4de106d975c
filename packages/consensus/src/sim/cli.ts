/**
 * The simulator's binary: turns process arguments into runCommand() and its lines into stdout. Only
 * process.argv, process.stdout and process.exitCode are used; the output has no clock, so time runs
 * with `time`.
 */
import { runCommand } from "./command.js";

process.exitCode = runCommand(process.argv.slice(2), (line) => {
  process.stdout.write(line + "\n");
});
