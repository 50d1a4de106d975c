/**
 * The node's logger: a narrow interface, a JSON-lines implementation for operators and a silent one for
 * tests. Modules receive `logger.child({ module })` and never pick a logger themselves.
 */

/** Structured fields attached to one log line or bound to a child logger. */
export type LogFields = Readonly<Record<string, unknown>>;

/** The severity of a log line, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** A structured logger; `child` binds fields that every later line carries. */
export interface Logger {
  child(bindings: LogFields): Logger;
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const level_rank: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Options of the JSON-lines logger. */
export interface JsonLoggerOptions {
  /** Lines below this level are dropped (default "info"). */
  readonly level?: LogLevel;
  /** Where a finished line goes (default: standard error). */
  readonly write?: (line: string) => void;
  /** The clock for the `time` field (default `Date.now`). */
  readonly now?: () => number;
}

/** Creates a logger that writes one JSON object per line: time, level, msg, then bound and line fields. */
export function createJsonLogger(options: JsonLoggerOptions = {}): Logger {
  const rank_min = level_rank[options.level ?? "info"];
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const now = options.now ?? Date.now;
  return jsonLogger({ rank_min, write, now }, {});
}

interface JsonSink {
  readonly rank_min: number;
  readonly write: (line: string) => void;
  readonly now: () => number;
}

function jsonLogger(sink: JsonSink, bindings: LogFields): Logger {
  const log = (level: LogLevel, message: string, fields?: LogFields): void => {
    if (level_rank[level] < sink.rank_min) return;
    const line = { time: new Date(sink.now()).toISOString(), level, msg: message, ...bindings, ...fields };
    sink.write(JSON.stringify(line, replaceForJson));
  };
  return {
    child: (more) => jsonLogger(sink, { ...bindings, ...more }),
    debug: (message, fields) => log("debug", message, fields),
    info: (message, fields) => log("info", message, fields),
    warn: (message, fields) => log("warn", message, fields),
    error: (message, fields) => log("error", message, fields),
  };
}

/** JSON.stringify replacer: errors as name/code/message, bytes as their length, bigints as strings. */
function replaceForJson(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { name: value.name, message: value.message, ...(code === undefined ? {} : { code }) };
  }
  if (value instanceof Uint8Array) return { bytes: value.byteLength };
  if (typeof value === "bigint") return value.toString();
  return value;
}

/** A logger that drops every line. */
export const silentLogger: Logger = {
  child: () => silentLogger,
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
