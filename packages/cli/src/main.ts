#!/usr/bin/env node
/** The `medledger` binary: argv, signals and exit codes; everything else is in the library. */
import { CommanderError } from "commander";
import { buildProgram, EXIT } from "./program.js";

let stopping: (() => Promise<void>) | null = null;

const program = buildProgram({
  out: (line) => process.stdout.write(`${line}\n`),
  onStop: (stop) => {
    stopping = stop;
  },
});

async function shutdown(): Promise<void> {
  const stop = stopping;
  stopping = null;
  if (stop !== null) await stop();
  process.exit(EXIT.ok);
}
process.on("SIGINT", () => void shutdown());
process.on("SIGTERM", () => void shutdown());

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`medledger: ${message}\n`);
    process.exitCode = EXIT.failed;
  }
}
