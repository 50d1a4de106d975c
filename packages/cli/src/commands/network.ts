/**
 * `medledger network create`: the files of a new network. The layout is a contract (the Docker
 * deployment calls it): see describeNetworkLayout() and packages/cli/README.md.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { encodeKeyFile, type Genesis, generateKeyPair, type KeyPair, limits } from "@medledger/protocol";
import { CliError, EXIT, usageError } from "../exit.js";
import { writePublicFile, writeSecretFile } from "../io.js";

/** The Docker image the compose file runs; its entrypoint must be the `medledger` binary. */
export const DOCKER_IMAGE = "medledger:local";
/** Ports inside a container. */
export const DOCKER_P2P_PORT = 7000;
export const DOCKER_API_PORT = 8080;
const PROMETHEUS_IMAGE = "prom/prometheus:v2.53.0";

/** What network create writes, as network.json holds it (paths relative to the output directory). */
export interface NetworkSummary {
  readonly chain: string;
  readonly out: string;
  readonly genesis: "genesis.json";
  readonly docker: boolean;
  readonly nodes: ReadonlyArray<{
    readonly name: string;
    readonly member: string;
    readonly memberKey: string;
    readonly node: string;
    readonly peerId: string;
    readonly nodeKey: string;
    readonly config: string;
    readonly dockerConfig: string | null;
    readonly p2p: string;
    readonly api: string;
  }>;
}

/** The layout, for --help and the README. */
export function describeNetworkLayout(): string {
  return `Files written (OUT is --out):
  OUT/genesis.json                chain id, time, founding members and their node DIDs
  OUT/network.json                this summary (what --json prints): DIDs, peer ids, addresses, paths
  OUT/members/member-<i>.key      member i's key (0600): signs members propose/vote, provider register
  OUT/node-<i>/node.key           node i's key (0600): its DID, libp2p peer id and block-signing key
  OUT/node-<i>/config.json        medledger start --config: data dir node-<i>/data, p2p 127.0.0.1:<base-port+i>,
                                  API 127.0.0.1:<api-base-port+i>, every other node as a peer
With --docker:
  OUT/node-<i>/config.docker.json the same node in a container (mounted as /config/node.json): data /data,
                                  p2p /ip4/0.0.0.0/tcp/${DOCKER_P2P_PORT}, peers /dns4/node-<j>/tcp/${DOCKER_P2P_PORT}/p2p/<id>,
                                  API 0.0.0.0:${DOCKER_API_PORT}
  OUT/docker-compose.yml          services node-0..node-<N-1>: image ${DOCKER_IMAGE} (entrypoint: medledger),
                                  command "start --config /config/node.json", read-only mounts of
                                  /config/node.json, /config/genesis.json, /config/node.key, a volume
                                  node-<i>-data on /data, API published on 127.0.0.1:<api-base-port+i>,
                                  healthcheck GET /ready; profile "monitoring": Prometheus on 127.0.0.1:9090
  OUT/prometheus/prometheus.yml   scrapes node-<i>:${DOCKER_API_PORT}/metrics every 5 s`;
}

/** Writes every file of a new network into `options.out` (new or empty); returns the summary. */
export async function createNetworkFiles(options: {
  nodes: number;
  out: string;
  chain: string;
  basePort: number;
  apiBasePort: number;
  docker: boolean;
}): Promise<NetworkSummary> {
  const { nodes: count, out } = options;
  const { peerIdFromPublicKey } = await import("@medledger/node");
  if (count > limits.members_max) throw usageError(`--nodes is at most ${limits.members_max}`);
  if (options.basePort + count - 1 > 65_535 || options.apiBasePort + count - 1 > 65_535) {
    throw usageError("the ports run past 65535");
  }
  if (existsSync(out) && readdirSync(out).length > 0) {
    throw new CliError("NOT_EMPTY", `${out} is not empty: not writing a network there`, EXIT.refused);
  }
  const members = Array.from({ length: count }, () => generateKeyPair());
  const nodeKeys = Array.from({ length: count }, () => generateKeyPair());
  const genesis: Genesis = {
    chain: options.chain,
    time: Date.now(),
    members: members.map((member, index) => ({
      member: member.did,
      nodes: [(nodeKeys[index] as KeyPair).did],
    })),
  };
  const peerIds = nodeKeys.map((key) => peerIdFromPublicKey(key.publicKey));
  const local = (index: number) => `/ip4/127.0.0.1/tcp/${options.basePort + index}/p2p/${peerIds[index]}`;
  writePublicFile(join(out, "genesis.json"), `${JSON.stringify(genesis, null, 2)}\n`);
  const summary: NetworkSummary = {
    chain: options.chain,
    out,
    genesis: "genesis.json",
    docker: options.docker,
    nodes: nodeKeys.map((key, index) => ({
      name: `node-${index}`,
      member: (members[index] as KeyPair).did,
      memberKey: `members/member-${index}.key`,
      node: key.did,
      peerId: peerIds[index] as string,
      nodeKey: `node-${index}/node.key`,
      config: `node-${index}/config.json`,
      dockerConfig: options.docker ? `node-${index}/config.docker.json` : null,
      p2p: local(index),
      api: `http://127.0.0.1:${options.apiBasePort + index}`,
    })),
  };
  summary.nodes.forEach((node, index) => {
    writeSecretFile(join(out, node.memberKey), encodeKeyFile(members[index] as KeyPair));
    writeSecretFile(join(out, node.nodeKey), encodeKeyFile(nodeKeys[index] as KeyPair));
    const others = summary.nodes.filter((_, other) => other !== index);
    writePublicFile(
      join(out, node.config),
      configText({
        dataDir: "data",
        genesis: "../genesis.json",
        listen: `/ip4/127.0.0.1/tcp/${options.basePort + index}`,
        peers: others.map((other) => other.p2p),
        apiHost: "127.0.0.1",
        apiPort: options.apiBasePort + index,
      }),
    );
    if (node.dockerConfig !== null) {
      writePublicFile(
        join(out, node.dockerConfig),
        configText({
          dataDir: "/data",
          genesis: "genesis.json",
          listen: `/ip4/0.0.0.0/tcp/${DOCKER_P2P_PORT}`,
          peers: others.map((other) => `/dns4/${other.name}/tcp/${DOCKER_P2P_PORT}/p2p/${other.peerId}`),
          apiHost: "0.0.0.0",
          apiPort: DOCKER_API_PORT,
        }),
      );
    }
  });
  if (options.docker) {
    writePublicFile(join(out, "docker-compose.yml"), composeText(summary, options.apiBasePort));
    writePublicFile(join(out, "prometheus", "prometheus.yml"), prometheusText(summary));
  }
  writePublicFile(join(out, "network.json"), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}

function configText(parts: {
  dataDir: string;
  genesis: string;
  listen: string;
  peers: string[];
  apiHost: string;
  apiPort: number;
}): string {
  const config = {
    dataDir: parts.dataDir,
    genesis: parts.genesis,
    key: "node.key",
    p2p: { listen: [parts.listen], peers: parts.peers },
    api: { host: parts.apiHost, port: parts.apiPort },
    log: { level: "info" },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

const q = (value: string) => JSON.stringify(value);

function composeText(summary: NetworkSummary, apiBasePort: number): string {
  const healthcheck = `fetch('http://127.0.0.1:${DOCKER_API_PORT}/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`;
  const lines = [
    `# medledger network ${summary.chain}: written by "medledger network create --docker"`,
    "# up:         docker-compose up -d",
    "# monitoring: docker-compose --profile monitoring up -d   (Prometheus on 127.0.0.1:9090)",
    "services:",
  ];
  summary.nodes.forEach((node, index) => {
    lines.push(
      `  ${node.name}:`,
      `    image: ${q(DOCKER_IMAGE)}`,
      `    command: ["start", "--config", "/config/node.json"]`,
      `    hostname: ${q(node.name)}`,
      "    restart: unless-stopped",
      "    stop_grace_period: 30s",
      "    volumes:",
      `      - ${q("./genesis.json:/config/genesis.json:ro")}`,
      `      - ${q(`./${node.name}/config.docker.json:/config/node.json:ro`)}`,
      `      - ${q(`./${node.name}/node.key:/config/node.key:ro`)}`,
      `      - ${q(`${node.name}-data:/data`)}`,
      "    ports:",
      `      - ${q(`127.0.0.1:${apiBasePort + index}:${DOCKER_API_PORT}`)}`,
      "    healthcheck:",
      `      test: ["CMD", "node", "-e", ${q(healthcheck)}]`,
      "      interval: 5s",
      "      timeout: 3s",
      "      retries: 10",
      "      start_period: 10s",
    );
  });
  lines.push(
    "  prometheus:",
    `    image: ${q(PROMETHEUS_IMAGE)}`,
    `    profiles: ["monitoring"]`,
    "    volumes:",
    `      - ${q("./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro")}`,
    "    ports:",
    `      - ${q("127.0.0.1:9090:9090")}`,
    "    depends_on:",
    ...summary.nodes.map((node) => `      - ${node.name}`),
    "volumes:",
    ...summary.nodes.map((node) => `  ${node.name}-data: {}`),
  );
  return `${lines.join("\n")}\n`;
}

function prometheusText(summary: NetworkSummary): string {
  return [
    `# Prometheus for medledger network ${summary.chain} (docker-compose --profile monitoring)`,
    "global:",
    "  scrape_interval: 5s",
    "  evaluation_interval: 5s",
    "scrape_configs:",
    "  - job_name: medledger",
    "    metrics_path: /metrics",
    "    static_configs:",
    "      - targets:",
    ...summary.nodes.map((node) => `          - ${q(`${node.name}:${DOCKER_API_PORT}`)}`),
    "        labels:",
    `          chain: ${q(summary.chain)}`,
    "",
  ].join("\n");
}
