/**
 * Exit codes and the one-line error of every command, defined once. A command fails by throwing; the
 * binary (main.ts) turns any error into `medledger: <CODE>: <message>` on stderr and its exit code.
 */
import { isClientError } from "@medledger/client";

/** Exit codes of every command. */
export const EXIT = {
  ok: 0,
  /** The command failed (a clear one-line error was printed). */
  failed: 1,
  /** The command line (or a config file) was wrong. */
  usage: 2,
  /** What the command names does not exist (a file, a record, a block, a transaction). */
  notFound: 3,
  /** Refused or denied: an access denied, a transaction rejected by the rules, a non-empty target. */
  refused: 4,
} as const;

/** The exit codes as `--help` prints them. */
export const EXIT_CODES_HELP = `
Exit codes:
  0  ok
  1  failed (one line on stderr: "medledger: <CODE>: <message>")
  2  usage: a bad flag, argument or config file
  3  not found: a file, record, block or transaction that does not exist
  4  refused or denied: access denied, transaction rejected, target not empty`;

/** An error a command raises on purpose: a stable code, a message, an exit code. */
export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
  }
}

/** A usage error (exit 2). */
export function usageError(message: string): CliError {
  return new CliError("USAGE", message, EXIT.usage);
}

/** Codes of the API, the client and the node that mean "not found" or "refused". */
const NOT_FOUND_CODES = new Set(["NOT_FOUND", "BLOCK_NOT_FOUND", "RECORD_NOT_HELD_HERE", "GONE", "ENOENT"]);
const REFUSED_CODES = new Set([
  "ACCESS_DENIED",
  "ACCESS_LOG_EXPIRED",
  "ADMIN_TOKEN_INVALID",
  "FORBIDDEN",
  "NOT_EMPTY",
  "NOT_HOLDER_PROVIDER",
  "RECORD_EXISTS",
  "REQUEST_KEY_NOT_CURRENT",
  "REQUEST_SIGNATURE_MISSING",
  "TX_REJECTED",
]);
const USAGE_CODES = new Set(["USAGE", "CLIENT_INPUT_INVALID", "VALIDATION_FAILED", "CONFIG_INVALID"]);

/** The code, one-line message and exit code of any error a command threw. */
export function describeError(error: unknown): { code: string; message: string; exitCode: number } {
  if (error instanceof CliError)
    return { code: error.code, message: oneLine(error.message), exitCode: error.exitCode };
  if (isClientError(error)) {
    const reason =
      error.reason === undefined || error.message.includes(error.reason) ? "" : ` (${error.reason})`;
    return { code: error.code, message: oneLine(error.message + reason), exitCode: exitFor(error.code) };
  }
  if (error instanceof Error) {
    const raw = (error as { code?: unknown }).code;
    const code = typeof raw === "string" ? raw : "FAILED";
    if (code === "ENOENT") {
      const path = (error as { path?: unknown }).path;
      return {
        code: "NOT_FOUND",
        message: `no such file or directory: ${String(path)}`,
        exitCode: EXIT.notFound,
      };
    }
    return { code, message: oneLine(error.message), exitCode: exitFor(code) };
  }
  return { code: "FAILED", message: oneLine(String(error)), exitCode: EXIT.failed };
}

function exitFor(code: string): number {
  if (NOT_FOUND_CODES.has(code)) return EXIT.notFound;
  if (REFUSED_CODES.has(code)) return EXIT.refused;
  if (USAGE_CODES.has(code)) return EXIT.usage;
  return EXIT.failed;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}
