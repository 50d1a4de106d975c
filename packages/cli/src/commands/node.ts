/**
 * Operator commands: keys, a new network's files, one node's data directory, running a node (start,
 * join), backup and restore, and the read-only chain check. Each turns flags into options of the node
 * library and calls it.
 */
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { MedledgerClient, type NodeStatus } from "@medledger/client";
import type { MedledgerNode } from "@medledger/node";
import { encodeKeyFile, type Genesis, generateKeyPair, parseGenesis } from "@medledger/protocol";
import type { Command } from "commander";
import { type NodeFlags, type NodeProcessOptions, resolveNodeOptions } from "../config.js";
import { CliError, EXIT } from "../exit.js";
import {
  type Io,
  parseDuration,
  parsePort,
  parsePositive,
  readGenesisFile,
  readKeyFile,
  report,
  table,
  writeSecretFile,
} from "../io.js";
import { createNetworkFiles, describeNetworkLayout } from "./network.js";

/** The node library, loaded only by the commands that need it (it takes about a second to load). */
export function nodeLibrary(): Promise<typeof import("@medledger/node")> {
  return import("@medledger/node");
}

export function registerNodeCommands(program: Command, io: Io): void {
  program
    .command("keygen")
    .description("generate an ed25519 key file (a member, node, provider or patient key) and print its DID")
    .option("--out <file>", "write the key file here (mode 0600); else print it on stdout")
    .option("--json", "print JSON")
    .action(async (options: { out?: string; json?: boolean }) => {
      const keyPair = generateKeyPair();
      const { peerIdFromPublicKey } = await nodeLibrary();
      const peerId = peerIdFromPublicKey(keyPair.publicKey);
      if (options.out === undefined) {
        io.out(encodeKeyFile(keyPair).trimEnd());
        return;
      }
      writeSecretFile(options.out, encodeKeyFile(keyPair));
      report(io, options.json, { did: keyPair.did, peerId, out: resolve(options.out) }, () => [keyPair.did]);
    });

  const network = program.command("network").description("create the files of a new network");
  network
    .command("create")
    .description(
      "keys, genesis.json and one config per node for a new network (optionally Docker Compose files)",
    )
    .requiredOption("--nodes <n>", "founding members, one node each", parsePositive)
    .requiredOption("--out <dir>", "an empty or new directory for the files")
    .option("--chain <id>", "the chain id", "medledger-local")
    .option("--base-port <port>", "node i listens for peers on port + i (127.0.0.1)", parsePort, 7000)
    .option("--api-base-port <port>", "node i serves its API on port + i (127.0.0.1)", parsePort, 8080)
    .option(
      "--docker",
      "also write docker-compose.yml, per-node config.docker.json, and Prometheus + Grafana (profile monitoring)",
    )
    .option("--json", "print JSON (the network.json summary)")
    .addHelpText("after", `\n${describeNetworkLayout()}`)
    .action(
      async (options: {
        nodes: number;
        out: string;
        chain: string;
        basePort: number;
        apiBasePort: number;
        docker?: boolean;
        json?: boolean;
      }) => {
        const summary = await createNetworkFiles({
          nodes: options.nodes,
          out: resolve(options.out),
          chain: options.chain,
          basePort: options.basePort,
          apiBasePort: options.apiBasePort,
          docker: options.docker === true,
        });
        report(io, options.json, summary, () => [
          `network ${summary.chain}: ${summary.nodes.length} founding members, files in ${summary.out}`,
          ...table(
            summary.nodes.map((node) => ({ name: node.name, node: node.node, p2p: node.p2p, api: node.api })),
            ["name", "node", "p2p", "api"],
          ),
          `start node i: medledger start --config ${join(summary.out, "node-<i>", "config.json")}`,
          ...(summary.docker
            ? [`or with Docker: docker-compose -f ${join(summary.out, "docker-compose.yml")} up -d`]
            : []),
        ]);
      },
    );

  program
    .command("init")
    .description("prepare one node's data directory from a genesis file and its node key")
    .requiredOption("--genesis <file>", "the network's genesis.json")
    .requiredOption("--key <file>", "the node's key file (medledger keygen)")
    .requiredOption("--data-dir <dir>", "the node's data directory (created, mode 0700)")
    .option("--json", "print JSON")
    .action(async (options: { genesis: string; key: string; dataDir: string; json?: boolean }) => {
      const { peerIdFromPublicKey } = await nodeLibrary();
      const genesis = readGenesisFile(options.genesis);
      const key = readKeyFile(options.key);
      const dataDir = resolve(options.dataDir);
      if (existsSync(join(dataDir, "chain.db"))) {
        throw new CliError("NOT_EMPTY", `${dataDir} already holds a chain database`, EXIT.refused);
      }
      prepareDataDir(dataDir, options.genesis, options.key);
      const founder = genesis.members.find((member) => member.nodes.includes(key.did));
      const value = {
        dataDir,
        chain: genesis.chain,
        node: key.did,
        peerId: peerIdFromPublicKey(key.publicKey),
        founder: founder?.member ?? null,
      };
      report(io, options.json, value, () => [
        `initialised ${dataDir} for chain ${genesis.chain}`,
        `node ${key.did} (peer id ${value.peerId})`,
        founder === undefined
          ? "this node is not in the genesis: it joins by a members' vote (medledger join)"
          : `a founding node of member ${founder.member}`,
        `start it: medledger start --data-dir ${dataDir} --p2p.peers <multiaddrs of the other nodes>`,
      ]);
    });

  nodeFlags(
    program
      .command("start")
      .description("run a node until SIGTERM or SIGINT (logs are JSON lines on stderr)"),
  ).action(async (options: NodeFlags & { json?: boolean }) => {
    const resolved = resolveNodeOptions(options, process.env);
    await runNode(resolved, io, options.json);
  });

  nodeFlags(
    program
      .command("join")
      .description(
        "start a new member's node and wait, printing progress, until the members' vote makes it a voter",
      )
      .requiredOption("--api <url>", "the API of a current member's node, to watch the vote")
      .option("--member <did>", "the new member's DID (printed in the proposal hint)")
      .option("--timeout <duration>", "give up after this long (e.g. 30m)", parseDuration, 3_600_000),
  ).action(async (options: NodeFlags & { api: string; member?: string; timeout: number; json?: boolean }) => {
    const resolved = resolveNodeOptions(options, process.env);
    const node = await runNode(resolved, io, options.json);
    await waitUntilVoter({
      node,
      api: options.api,
      member: options.member,
      timeoutMs: options.timeout,
      io,
      json: options.json,
    });
  });

  program
    .command("backup")
    .description(
      "copy a node's chain.db and vault.db (SQLite online backup, safe while it runs) and its keys into one archive",
    )
    .requiredOption("--data-dir <dir>", "the node's data directory")
    .requiredOption("--out <file>", "the archive to write (mode 0600: it holds the node's secrets)")
    .option("--json", "print JSON (the manifest)")
    .action(async (options: { dataDir: string; out: string; json?: boolean }) => {
      requireChainDb(options.dataDir);
      const { backupNode } = await nodeLibrary();
      const manifest = await backupNode({ dataDir: resolve(options.dataDir), outFile: resolve(options.out) });
      report(io, options.json, manifest, () => [
        `backup written to ${resolve(options.out)}: height ${manifest.tip.height}, app hash ${manifest.tip.appHash.slice(0, 16)}…`,
        ...table(
          manifest.files.map((file) => ({ ...file })),
          ["name", "bytes", "sha256"],
        ),
      ]);
    });

  program
    .command("restore")
    .description("restore a backup into a data directory (integrity-checked before anything is replaced)")
    .requiredOption("--from <file>", "the archive written by medledger backup")
    .requiredOption("--data-dir <dir>", "the target data directory (must be empty unless --force)")
    .option("--force", "replace the node files in a non-empty directory")
    .option("--json", "print JSON (the manifest)")
    .action(async (options: { from: string; dataDir: string; force?: boolean; json?: boolean }) => {
      const { restoreNode } = await nodeLibrary();
      if (!existsSync(options.from))
        throw new CliError("NOT_FOUND", `no such file: ${options.from}`, EXIT.notFound);
      const manifest = restoreNode({
        from: resolve(options.from),
        dataDir: resolve(options.dataDir),
        force: options.force === true,
      });
      report(io, options.json, manifest, () => [
        `restored ${resolve(options.dataDir)}: height ${manifest.tip.height}, app hash ${manifest.tip.appHash.slice(0, 16)}… (${manifest.files.length} files, integrity ok)`,
      ]);
    });

  program
    .command("verify")
    .description(
      "re-check the whole local chain read-only: hashes, signatures, Merkle roots, and a replay from the genesis",
    )
    .requiredOption("--data-dir <dir>", "the node's data directory (its chain.db)")
    .option("--genesis <file>", "the genesis (default: <data-dir>/genesis.json)")
    .option("--json", "print JSON")
    .action(async (options: { dataDir: string; genesis?: string; json?: boolean }) => {
      const { verifyChain } = await nodeLibrary();
      requireChainDb(options.dataDir);
      const genesis = readGenesisFile(options.genesis ?? join(options.dataDir, "genesis.json"));
      const result = verifyChain({ dbPath: join(resolve(options.dataDir), "chain.db"), genesis });
      if (!result.ok) {
        if (options.json === true) io.out(JSON.stringify(result, null, 2));
        throw new CliError("CHAIN_INVALID", `height ${result.height}: ${result.problem}`, EXIT.failed);
      }
      report(io, options.json, result, () => [
        `ok: ${result.height} blocks and ${result.txs} transactions verified from the genesis; app hash ${result.appHash}`,
      ]);
    });
}

/** The flags of a node process (start, join). */
function nodeFlags(command: Command): Command {
  return command
    .option("--config <file>", "a JSON config file (env MEDLEDGER_CONFIG)")
    .option("--data-dir <dir>", "the node's data directory (env MEDLEDGER_DATA_DIR)")
    .option("--genesis <file>", "the genesis (env MEDLEDGER_GENESIS; default <data-dir>/genesis.json)")
    .option("--key <file>", "the node's key file (env MEDLEDGER_KEY; default <data-dir>/node.key)")
    .option(
      "--p2p.listen <multiaddr...>",
      "listen addresses (env MEDLEDGER_P2P_LISTEN, comma-separated; default /ip4/0.0.0.0/tcp/7000)",
    )
    .option("--p2p.peers <multiaddr...>", "peers, each ending in /p2p/<peer id> (env MEDLEDGER_P2P_PEERS)")
    .option("--api.host <host>", "the API's address (env MEDLEDGER_API_HOST; default 127.0.0.1)")
    .option("--api.port <port>", "the API's port (env MEDLEDGER_API_PORT; default 8080)", parsePort)
    .option("--log.level <level>", "debug, info, warn or error (env MEDLEDGER_LOG_LEVEL; default info)")
    .option("--raft.tick-ms <ms>", "one Raft tick (env MEDLEDGER_RAFT_TICK_MS; default 100)", parsePositive)
    .option("--json", "print the node's lifecycle as JSON lines");
}

/** Copies the genesis and node key into the data directory when given and absent there. */
function prepareDataDir(dataDir: string, genesisPath: string, keyPath: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const genesisTarget = join(dataDir, "genesis.json");
  if (resolve(genesisPath) !== genesisTarget && !existsSync(genesisTarget))
    copyFileSync(genesisPath, genesisTarget);
  const keyTarget = join(dataDir, "node.key");
  if (resolve(keyPath) !== keyTarget && !existsSync(keyTarget)) {
    writeSecretFile(keyTarget, encodeKeyFile(readKeyFile(keyPath)));
  }
}

function requireChainDb(dataDir: string): void {
  if (!existsSync(join(dataDir, "chain.db"))) {
    throw new CliError("NOT_FOUND", `${dataDir} holds no chain.db`, EXIT.notFound);
  }
}

/** Starts a node with the resolved options and registers its graceful stop. */
async function runNode(
  options: NodeProcessOptions,
  io: Io,
  json: boolean | undefined,
): Promise<MedledgerNode> {
  const genesis: Genesis = parseGenesis(readGenesisFile(options.genesis));
  const key = readKeyFile(options.key);
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  if (!existsSync(join(options.dataDir, "genesis.json"))) {
    copyFileSync(options.genesis, join(options.dataDir, "genesis.json"));
  }
  const { createJsonLogger, startNode } = await nodeLibrary();
  const logger = createJsonLogger({ level: options.logLevel });
  const node = await startNode({
    dataDir: options.dataDir,
    genesis,
    nodeSecretKey: key.secretKey,
    listen: options.listen,
    peers: options.peers,
    logger,
    tickMs: options.tickMs,
    api: { host: options.apiHost, port: options.apiPort },
  });
  io.onStop(async () => {
    await node.stop();
    lifecycle(io, json, { event: "stopped", node: node.id }, `node ${node.id} stopped`);
  });
  lifecycle(
    io,
    json,
    {
      event: "started",
      node: node.id,
      chain: genesis.chain,
      dataDir: options.dataDir,
      p2p: node.addresses(),
      api: node.apiUrl,
    },
    `node ${node.id} started: chain ${genesis.chain}, api ${node.apiUrl}, p2p ${node.addresses().join(" ")}`,
  );
  return node;
}

function lifecycle(io: Io, json: boolean | undefined, value: Record<string, unknown>, line: string): void {
  io.out(json === true ? JSON.stringify(value) : line);
}

/** Polls a member's node until this node is a voter, printing each new stage. */
async function waitUntilVoter(parts: {
  node: MedledgerNode;
  api: string;
  member: string | undefined;
  timeoutMs: number;
  io: Io;
  json: boolean | undefined;
}): Promise<void> {
  const { node, io, json } = parts;
  const client = new MedledgerClient({ baseUrl: parts.api, timeoutMs: 5_000 });
  const member = parts.member ?? "<new member DID>";
  lifecycle(
    io,
    json,
    { event: "waiting", node: node.id, member: parts.member ?? null },
    `waiting for the members' vote: a member runs "medledger members propose --add ${member} --nodes ${node.id} --key <member key> --api ${parts.api}", the others "medledger members vote --proposal <id>"`,
  );
  const deadline = Date.now() + parts.timeoutMs;
  let stage = "waiting";
  let lastError = "";
  for (;;) {
    let status: NodeStatus | null = null;
    try {
      status = await client.status();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (message !== lastError)
        lifecycle(
          io,
          json,
          { event: "unreachable", api: parts.api, message },
          `the member node is unreachable: ${message}`,
        );
      lastError = message;
    }
    if (status !== null) {
      const next = stageOf(status, node.id);
      if (next !== stage) {
        stage = next;
        const local = node.ledger.status().height;
        lifecycle(
          io,
          json,
          { event: stage, node: node.id, height: local, clusterHeight: status.height },
          describeStage(stage, node.id, local, status.height),
        );
      }
      if (stage === "voter") return;
    }
    if (Date.now() > deadline)
      throw new CliError("TIMEOUT", `not a voter after ${parts.timeoutMs} ms (stage: ${stage})`);
    await new Promise((done) => setTimeout(done, 500));
  }
}

function stageOf(status: NodeStatus, node: string): string {
  if (status.voters.includes(node)) return "voter";
  if (status.learners.includes(node)) return "learner";
  if (status.members.some((member) => member.nodes.includes(node))) return "admitted";
  return "waiting";
}

function describeStage(stage: string, node: string, height: number, clusterHeight: number): string {
  if (stage === "admitted") return `admitted: the vote passed; the leader will add ${node} as a learner`;
  if (stage === "learner") return `learner: catching up (height ${height} of ${clusterHeight})`;
  if (stage === "voter") return `voter: ${node} votes in the consortium (height ${height})`;
  return `waiting for the members' vote`;
}
