#!/usr/bin/env node
/**
 * The `medledger` binary: argv, signals and exit codes; everything else is in the libraries. Any
 * failure is ONE line on stderr, `medledger: <CODE>: <message>`, and an exit code from EXIT.
 */
import { CommanderError } from "commander";
import { describeError, EXIT } from "./exit.js";
import { buildProgram } from "./program.js";

let stopping: (() => Promise<void>) | null = null;
let signalled = false;

const program = buildProgram({
  out: (line) => process.stdout.write(`${line}\n`),
  onStop: (stop) => {
    stopping = stop;
  },
});

async function shutdown(): Promise<void> {
  if (signalled) process.exit(EXIT.failed); // a second signal: stop now
  signalled = true;
  const stop = stopping;
  stopping = null;
  try {
    if (stop !== null) await stop();
    process.exit(EXIT.ok);
  } catch (error) {
    fail(error);
    process.exit(process.exitCode ?? EXIT.failed);
  }
}
process.on("SIGINT", () => void shutdown());
process.on("SIGTERM", () => void shutdown());
// Anything thrown outside a command's promise (a broken invariant in a running node): one line, exit 1.
// MEDLEDGER_DEBUG=1 adds the stack trace.
const crash = (error: unknown) => {
  if (process.env.MEDLEDGER_DEBUG === "1" && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  fail(error);
  process.exit(EXIT.failed);
};
process.on("uncaughtException", crash);
process.on("unhandledRejection", crash);

function fail(error: unknown): void {
  const { code, message, exitCode } = describeError(error);
  process.stderr.write(`medledger: ${code}: ${message}\n`);
  process.exitCode = exitCode;
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    fail(error);
    // A long-running command that failed after starting must not keep the process alive.
    const stop = stopping as (() => Promise<void>) | null;
    stopping = null;
    if (stop !== null) await stop().catch(() => undefined);
    process.exit(process.exitCode ?? EXIT.failed);
  }
}
