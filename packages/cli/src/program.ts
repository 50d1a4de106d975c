/**
 * The `medledger` command line as a commander program: each command turns its flags into options of
 * the node library or calls of the client SDK. No ledger logic lives here.
 */

import { Command } from "commander";
import { registerClientCommands } from "./commands/client.js";
import { registerNodeCommands } from "./commands/node.js";
import { EXIT, EXIT_CODES_HELP } from "./exit.js";
import { type Io, parsePort } from "./io.js";

export { EXIT };

/** Builds the program; `onStop` registers what to do on SIGINT/SIGTERM. */
export function buildProgram(io: Io): Command {
  const program = new Command("medledger")
    .description("medledger: a consent and audit ledger for hospital consortia")
    .version("0.1.0")
    .exitOverride()
    .configureOutput({
      // Usage errors: ONE line, "medledger: USAGE: <what>" (commander's own text, without "error: ").
      outputError: (text, write) =>
        write(
          `medledger: USAGE: ${text
            .replace(/^error: /, "")
            .trim()
            .replace(/\s*\n\s*/g, " ")}\n`,
        ),
    })
    .addHelpText("afterAll", EXIT_CODES_HELP);

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
      const { startDemo } = await import("@medledger/node");
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

  registerNodeCommands(program, io);
  registerClientCommands(program, io);
  return program;
}
