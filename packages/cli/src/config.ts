/**
 * The options of a node process (`medledger start`, `medledger join`), resolved in one place:
 * flags > environment variables (MEDLEDGER_*) > the config file > defaults.
 *
 * The config file is JSON; relative paths in it are relative to the file's directory:
 *   { "dataDir": "data", "genesis": "../genesis.json", "key": "node.key",
 *     "p2p": { "listen": ["/ip4/0.0.0.0/tcp/7000"], "peers": ["/dns4/node-1/tcp/7000/p2p/12D3KooW..."] },
 *     "api": { "host": "127.0.0.1", "port": 8080 }, "log": { "level": "info" }, "raft": { "tickMs": 100 } }
 */
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import type { LogLevel } from "@medledger/node";
import { CliError, EXIT, usageError } from "./exit.js";

/** Everything a node process needs, resolved. */
export interface NodeProcessOptions {
  readonly dataDir: string;
  readonly genesis: string;
  readonly key: string;
  readonly listen: string[];
  readonly peers: string[];
  readonly apiHost: string;
  readonly apiPort: number;
  readonly logLevel: LogLevel;
  readonly tickMs: number;
}

/** The flags of `start` and `join` (commander attribute names). */
export interface NodeFlags {
  readonly config?: string;
  readonly dataDir?: string;
  readonly genesis?: string;
  readonly key?: string;
  readonly "p2p.listen"?: string[];
  readonly "p2p.peers"?: string[];
  readonly "api.host"?: string;
  readonly "api.port"?: number;
  readonly "log.level"?: string;
  readonly "raft.tickMs"?: number;
}

/** The defaults of a node process. */
export const NODE_DEFAULTS = {
  listen: ["/ip4/0.0.0.0/tcp/7000"],
  apiHost: "127.0.0.1",
  apiPort: 8080,
  logLevel: "info" as LogLevel,
  tickMs: 100,
} as const;

/** The environment variables a node process reads. */
export const NODE_ENV = {
  config: "MEDLEDGER_CONFIG",
  dataDir: "MEDLEDGER_DATA_DIR",
  genesis: "MEDLEDGER_GENESIS",
  key: "MEDLEDGER_KEY",
  listen: "MEDLEDGER_P2P_LISTEN",
  peers: "MEDLEDGER_P2P_PEERS",
  apiHost: "MEDLEDGER_API_HOST",
  apiPort: "MEDLEDGER_API_PORT",
  logLevel: "MEDLEDGER_LOG_LEVEL",
  tickMs: "MEDLEDGER_RAFT_TICK_MS",
} as const;

const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

interface ConfigFile {
  dataDir?: string;
  genesis?: string;
  key?: string;
  listen?: string[];
  peers?: string[];
  apiHost?: string;
  apiPort?: number;
  logLevel?: string;
  tickMs?: number;
}

/** Resolves the options of a node process from its flags, the environment and its config file. */
export function resolveNodeOptions(flags: NodeFlags, env: NodeJS.ProcessEnv): NodeProcessOptions {
  const configPath = flags.config ?? env[NODE_ENV.config];
  const file = configPath === undefined ? {} : readConfigFile(configPath);
  const fromEnv = environmentOptions(env);
  const dataDir = flags.dataDir ?? fromEnv.dataDir ?? file.dataDir;
  if (dataDir === undefined)
    throw usageError("no data directory: give --data-dir, MEDLEDGER_DATA_DIR or a config file");
  const logLevel = flags["log.level"] ?? fromEnv.logLevel ?? file.logLevel ?? NODE_DEFAULTS.logLevel;
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw usageError(`the log level is one of ${LOG_LEVELS.join(", ")}`);
  }
  return {
    dataDir: resolve(dataDir),
    genesis: resolve(flags.genesis ?? fromEnv.genesis ?? file.genesis ?? join(dataDir, "genesis.json")),
    key: resolve(flags.key ?? fromEnv.key ?? file.key ?? join(dataDir, "node.key")),
    listen: flags["p2p.listen"] ?? fromEnv.listen ?? file.listen ?? [...NODE_DEFAULTS.listen],
    peers: flags["p2p.peers"] ?? fromEnv.peers ?? file.peers ?? [],
    apiHost: flags["api.host"] ?? fromEnv.apiHost ?? file.apiHost ?? NODE_DEFAULTS.apiHost,
    apiPort: flags["api.port"] ?? fromEnv.apiPort ?? file.apiPort ?? NODE_DEFAULTS.apiPort,
    logLevel: logLevel as LogLevel,
    tickMs: flags["raft.tickMs"] ?? fromEnv.tickMs ?? file.tickMs ?? NODE_DEFAULTS.tickMs,
  };
}

function environmentOptions(env: NodeJS.ProcessEnv): ConfigFile {
  const list = (name: string) => {
    const value = env[name];
    return value === undefined
      ? undefined
      : value
          .split(",")
          .map((item) => item.trim())
          .filter(Boolean);
  };
  const number = (name: string, what: string) => {
    const value = env[name];
    if (value === undefined) return undefined;
    const parsed = Number(value);
    if (!Number.isSafeInteger(parsed) || parsed < 0) throw usageError(`${name} must be ${what}`);
    return parsed;
  };
  const out: ConfigFile = {};
  const assign = <K extends keyof ConfigFile>(key: K, value: ConfigFile[K] | undefined) => {
    if (value !== undefined) out[key] = value;
  };
  assign("dataDir", env[NODE_ENV.dataDir]);
  assign("genesis", env[NODE_ENV.genesis]);
  assign("key", env[NODE_ENV.key]);
  assign("listen", list(NODE_ENV.listen));
  assign("peers", list(NODE_ENV.peers));
  assign("apiHost", env[NODE_ENV.apiHost]);
  assign("apiPort", number(NODE_ENV.apiPort, "a port"));
  assign("logLevel", env[NODE_ENV.logLevel]);
  assign("tickMs", number(NODE_ENV.tickMs, "a number of milliseconds"));
  return out;
}

/** Reads and validates a config file (CONFIG_INVALID, exit 2, on anything unexpected). */
export function readConfigFile(path: string): ConfigFile {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    if ((error as { code?: unknown }).code === "ENOENT") throw error;
    throw configError(path, "is not JSON");
  }
  const base = dirname(resolve(path));
  const at = (value: string) => (isAbsolute(value) ? value : join(base, value));
  const root = object(json, path, "the file", ["dataDir", "genesis", "key", "p2p", "api", "log", "raft"]);
  const p2p = object(root.p2p ?? {}, path, "p2p", ["listen", "peers"]);
  const api = object(root.api ?? {}, path, "api", ["host", "port"]);
  const log = object(root.log ?? {}, path, "log", ["level"]);
  const raft = object(root.raft ?? {}, path, "raft", ["tickMs"]);
  const out: ConfigFile = {};
  const text = (value: unknown, name: string) => {
    if (value === undefined) return undefined;
    if (typeof value !== "string" || value.length === 0) throw configError(path, `${name} must be a string`);
    return value;
  };
  const texts = (value: unknown, name: string) => {
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
      throw configError(path, `${name} must be a list of strings`);
    }
    return value as string[];
  };
  const integer = (value: unknown, name: string) => {
    if (value === undefined) return undefined;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      throw configError(path, `${name} must be an unsigned integer`);
    }
    return value;
  };
  const dataDir = text(root.dataDir, "dataDir");
  const genesis = text(root.genesis, "genesis");
  const key = text(root.key, "key");
  if (dataDir !== undefined) out.dataDir = at(dataDir);
  if (genesis !== undefined) out.genesis = at(genesis);
  if (key !== undefined) out.key = at(key);
  const listen = texts(p2p.listen, "p2p.listen");
  const peers = texts(p2p.peers, "p2p.peers");
  const host = text(api.host, "api.host");
  const port = integer(api.port, "api.port");
  const level = text(log.level, "log.level");
  const tickMs = integer(raft.tickMs, "raft.tickMs");
  if (listen !== undefined) out.listen = listen;
  if (peers !== undefined) out.peers = peers;
  if (host !== undefined) out.apiHost = host;
  if (port !== undefined) out.apiPort = port;
  if (level !== undefined) out.logLevel = level;
  if (tickMs !== undefined) out.tickMs = tickMs;
  return out;
}

function object(value: unknown, path: string, name: string, fields: string[]): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw configError(path, `${name} must be an object`);
  }
  for (const key of Object.keys(value)) {
    if (!fields.includes(key))
      throw configError(path, `unknown field ${name === "the file" ? key : `${name}.${key}`}`);
  }
  return value as Record<string, unknown>;
}

function configError(path: string, message: string): CliError {
  return new CliError("CONFIG_INVALID", `config ${path}: ${message}`, EXIT.usage);
}
