/**
 * The `medledger` command line as a commander program: each command turns its flags into options of
 * the node library and calls it. No ledger logic lives here.
 */

import { startDemo } from "@medledger/node";
import { Command, InvalidArgumentError } from "commander";

/** Exit codes of every command. */
export const EXIT = {
  ok: 0,
  /** The command failed (a clear one-line error was printed). */
  failed: 1,
  /** The command line itself was wrong. */
  usage: 2,
} as const;

/** Builds the program; `onStop` registers what to do on SIGINT/SIGTERM. */
export function buildProgram(io: {
  out: (line: string) => void;
  onStop: (stop: () => Promise<void>) => void;
}): Command {
  const program = new Command("medledger")
    .description("medledger: a consent and audit ledger for hospital consortia")
    .version("0.1.0")
    .exitOverride()
    .showHelpAfterError();

  program
    .command("demo")
    .description("run a local 3-hospital consortium on 127.0.0.1, seeded with demo data, until Ctrl-C")
    .option("--dir <path>", "where the nodes keep their data (default: a new temporary directory)")
    .option(
      "--base-port <port>",
      "first TCP port; node i listens on port + i (default: any free ports)",
      parsePort,
    )
    .action(async (options: { dir?: string; basePort?: number }) => {
      const demo = await startDemo({
        ...(options.dir === undefined ? {} : { dataDir: options.dir }),
        ...(options.basePort === undefined ? {} : { basePort: options.basePort }),
        print: io.out,
      });
      io.out("the consortium keeps running: press Ctrl-C to stop it");
      io.onStop(async () => {
        await demo.stop();
        io.out("demo stopped");
      });
    });

  return program;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65_533) {
    throw new InvalidArgumentError("a port is an integer from 1 to 65533");
  }
  return port;
}
