/**
 * Output of every command: `--json` prints one JSON document on stdout for scripts; otherwise readable
 * lines and tables. Files: key files (mode 0600), genesis files, and the tiny parsers of flag values.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { type Genesis, type KeyPair, parseGenesis, parseKeyFile } from "@medledger/protocol";
import { InvalidArgumentError } from "commander";
import { CliError, EXIT } from "./exit.js";

/** Where a command writes; `onStop` registers what to do on SIGINT/SIGTERM (long-running commands). */
export interface Io {
  out(line: string): void;
  onStop(stop: () => Promise<void>): void;
}

/** Prints `value` as JSON when `json`, else the readable `lines`. */
export function report(io: Io, json: boolean | undefined, value: unknown, lines: () => string[]): void {
  if (json === true) {
    io.out(JSON.stringify(value, null, 2));
    return;
  }
  for (const line of lines()) io.out(line);
}

/** A table: a header row and aligned columns. */
export function table(
  rows: readonly Record<string, string | number | boolean | null>[],
  columns: string[],
): string[] {
  if (rows.length === 0) return ["(none)"];
  const cells = rows.map((row) => columns.map((column) => String(row[column] ?? "-")));
  const widths = columns.map((column, index) =>
    Math.max(column.length, ...cells.map((row) => (row[index] ?? "").length)),
  );
  const line = (values: string[]) =>
    values
      .map((value, index) => value.padEnd(widths[index] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(columns.map((column) => column.toUpperCase())), ...cells.map(line)];
}

/** Reads and validates a key file. */
export function readKeyFile(path: string): KeyPair {
  return parseKeyFile(readFileSync(path));
}

/** Reads and validates a genesis file. */
export function readGenesisFile(path: string): Genesis {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    if ((error as { code?: unknown }).code === "ENOENT") throw error;
    throw new CliError("GENESIS_INVALID", `${path} is not JSON`);
  }
  return parseGenesis(json);
}

/** Writes a secret file with mode 0600; refuses to replace an existing one. */
export function writeSecretFile(path: string, text: string): void {
  if (existsSync(path)) throw new CliError("NOT_EMPTY", `${path} exists: not replacing it`, EXIT.refused);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, text, { mode: 0o600, flag: "wx" });
}

/** Writes a non-secret file (mode 0644). */
export function writePublicFile(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text, { mode: 0o644 });
}

/** Commander parser of a TCP port (1..65535; 0 where `allowZero`). */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65_533) {
    throw new InvalidArgumentError("a port is an integer from 1 to 65533");
  }
  return port;
}

/** Commander parser of a positive integer. */
export function parsePositive(value: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 1)
    throw new InvalidArgumentError("expected a positive integer");
  return number;
}

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Commander parser of a duration: a number and a unit (ms, s, m, h, d), e.g. 90m, 24h, 30d. */
export function parseDuration(value: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(value.trim());
  const unit = match === null ? undefined : DURATION_UNITS_MS[match[2] as string];
  if (match === null || unit === undefined) {
    throw new InvalidArgumentError("a duration is a number and a unit: ms, s, m, h or d (e.g. 24h)");
  }
  return Number(match[1]) * unit;
}

/** Commander parser of a comma-separated list (repeatable: values accumulate). */
export function parseList(value: string, previous: string[] | undefined): string[] {
  const items = value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
  return [...(previous ?? []), ...items];
}

/** Commander parser of a repeatable flag. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
