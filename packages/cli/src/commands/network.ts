/**
 * `medledger network create`: the files of a new network. The layout is a contract (the Docker
 * deployment calls it): see describeNetworkLayout() and packages/cli/README.md.
 */
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { encodeKeyFile, type Genesis, generateKeyPair, type KeyPair, limits } from "@medledger/protocol";
import { CliError, EXIT, usageError } from "../exit.js";
import { writePublicFile, writeSecretFile } from "../io.js";

/** The Docker image the compose file runs; its entrypoint must be the `medledger` binary. */
export const DOCKER_IMAGE = "medledger:local";
/** Ports inside a container. */
export const DOCKER_P2P_PORT = 7000;
export const DOCKER_API_PORT = 8080;
const PROMETHEUS_IMAGE = "prom/prometheus:v2.53.0";
const GRAFANA_IMAGE = "grafana/grafana-oss:11.1.0";
/** Grafana's password file, relative to OUT (random, written once; see writeGrafanaPassword). */
export const GRAFANA_PASSWORD_FILE = "grafana/admin.password";
const GRAFANA_PASSWORD_BYTES = 24;
/**
 * The monitoring files shipped with this package (packages/cli/assets/monitoring: the Grafana
 * provisioning and dashboards, the Prometheus alert rules), copied into OUT under the same relative
 * paths. Resolved from this module: src/commands/ (vitest, condition medledger-source) and
 * dist/commands/ (the built binary, the Docker image's /app/packages/cli) are both two levels below
 * the package root.
 */
export const MONITORING_ASSETS_DIR = fileURLToPath(new URL("../../assets/monitoring/", import.meta.url));
/** What the compose file mounts from the assets (checked before anything is written). */
const MONITORING_ASSETS_USED = ["prometheus/alerts.yml", "grafana/provisioning", "grafana/dashboards"];

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
                                  and Grafana on 127.0.0.1:3000 (volume grafana-data)
  OUT/prometheus/prometheus.yml   scrapes node-<i>:${DOCKER_API_PORT}/metrics every 5 s, loads alerts.yml
  OUT/prometheus/alerts.yml       alert rules: node down, no leader, apply lag, height behind, peers, mempool, misbehaving peers
  OUT/grafana/provisioning/       Grafana's datasource (the Prometheus service) and dashboard provider
  OUT/grafana/dashboards/         the dashboard "medledger: consortium overview"
  OUT/grafana/admin.password      Grafana's admin password (random; 0644 in the 0700 directory OUT/grafana)`;
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
  if (
    options.docker &&
    !MONITORING_ASSETS_USED.every((path) => existsSync(join(MONITORING_ASSETS_DIR, path)))
  ) {
    throw new CliError(
      "ASSETS_MISSING",
      `${MONITORING_ASSETS_DIR} is missing or incomplete: this install of @medledger/cli lacks its assets`,
    );
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
    writeMonitoringFiles(out);
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

/**
 * Copies the monitoring assets into OUT and writes Grafana's admin password. Prometheus (uid 65534)
 * and Grafana (uid 472) read these files through bind mounts, which keep the host's owner and mode:
 * every file is made 0644 and every directory 0755 explicitly, whatever the umask, except OUT/grafana
 * itself (0700: see writeGrafanaPassword).
 */
function writeMonitoringFiles(out: string): void {
  mkdirSync(join(out, "grafana"), { recursive: true });
  chmodSync(join(out, "grafana"), 0o700);
  const entries = readdirSync(MONITORING_ASSETS_DIR, { recursive: true, encoding: "utf8" }).sort();
  for (const entry of entries) {
    const source = join(MONITORING_ASSETS_DIR, entry);
    const target = join(out, entry);
    if (statSync(source).isDirectory()) {
      mkdirSync(target, { recursive: true });
      if (entry !== "grafana") chmodSync(target, 0o755);
      continue;
    }
    writeFileSync(target, readFileSync(source), { flag: "wx" });
    chmodSync(target, 0o644);
  }
  chmodSync(join(out, "prometheus", "prometheus.yml"), 0o644);
  writeGrafanaPassword(join(out, GRAFANA_PASSWORD_FILE));
}

/**
 * Grafana's admin password: random, in OUT/grafana/admin.password, mounted into the container as one
 * file. Grafana runs as uid 472 and must read it, while the generator (seldom root) cannot chown it
 * to 472; a 0600 file would lock Grafana out until the operator chowns it. So the file is 0644 and its
 * directory OUT/grafana is 0700: the Docker daemon (root), not the container, walks the host path to
 * a bind-mounted file, so the 0700 directory keeps the host's other users out and does not stop the
 * mount, and inside the container only the file's own mode counts.
 */
function writeGrafanaPassword(path: string): void {
  writeFileSync(path, randomBytes(GRAFANA_PASSWORD_BYTES).toString("base64url"), { flag: "wx" });
  chmodSync(path, 0o644);
}

const q = (value: string) => JSON.stringify(value);

function composeText(summary: NetworkSummary, apiBasePort: number): string {
  const healthcheck = `fetch('http://127.0.0.1:${DOCKER_API_PORT}/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`;
  const lines = [
    `# medledger network ${summary.chain}: written by "medledger network create --docker"`,
    "# up:         docker-compose up -d",
    "# monitoring: docker-compose --profile monitoring up -d   (Prometheus on 127.0.0.1:9090, Grafana on",
    `#             127.0.0.1:3000: user admin, password in ./${GRAFANA_PASSWORD_FILE})`,
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
    `      - ${q("./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro")}`,
    "    ports:",
    `      - ${q("127.0.0.1:9090:9090")}`,
    "    depends_on:",
    ...summary.nodes.map((node) => `      - ${node.name}`),
    ...grafanaServiceLines(),
    "volumes:",
    ...summary.nodes.map((node) => `  ${node.name}-data: {}`),
    "  grafana-data: {}",
  );
  return `${lines.join("\n")}\n`;
}

/** Grafana: provisioned datasource and dashboard, admin password from its file, nobody else gets in. */
function grafanaServiceLines(): string[] {
  return [
    "  grafana:",
    `    image: ${q(GRAFANA_IMAGE)}`,
    `    profiles: ["monitoring"]`,
    "    restart: unless-stopped",
    "    environment:",
    `      GF_SECURITY_ADMIN_PASSWORD__FILE: ${q("/run/medledger/admin.password")}`,
    `      GF_AUTH_ANONYMOUS_ENABLED: "false"`,
    `      GF_USERS_ALLOW_SIGN_UP: "false"`,
    `      GF_ANALYTICS_REPORTING_ENABLED: "false"`,
    `      GF_ANALYTICS_CHECK_FOR_UPDATES: "false"`,
    `      GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES: "false"`,
    "    volumes:",
    `      - ${q("./grafana/provisioning:/etc/grafana/provisioning:ro")}`,
    `      - ${q("./grafana/dashboards:/etc/grafana/dashboards:ro")}`,
    `      - ${q(`./${GRAFANA_PASSWORD_FILE}:/run/medledger/admin.password:ro`)}`,
    `      - ${q("grafana-data:/var/lib/grafana")}`,
    "    ports:",
    `      - ${q("127.0.0.1:3000:3000")}`,
    "    depends_on:",
    "      - prometheus",
  ];
}

function prometheusText(summary: NetworkSummary): string {
  return [
    `# Prometheus for medledger network ${summary.chain} (docker-compose --profile monitoring)`,
    "global:",
    "  scrape_interval: 5s",
    "  evaluation_interval: 5s",
    "rule_files:",
    "  - alerts.yml",
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
