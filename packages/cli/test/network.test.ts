// Goal: `network create --docker` writes a complete monitoring profile: the compose file's Prometheus
// (with the alert rules) and Grafana (provisioned datasource and dashboard, a random admin password
// that Grafana's uid 472 can read), copied from the package's assets/monitoring. Method: the same
// checks on a network written by the source module under vitest (condition medledger-source: the
// assets are found from src/commands/) and by the BUILT binary (found from dist/commands/). The
// workspace declares no YAML parser, so the YAML files are checked line by line, and by promtool
// where Debian's `prometheus` package installed it.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import {
  createNetworkFiles,
  describeNetworkLayout,
  GRAFANA_PASSWORD_FILE,
  MONITORING_ASSETS_DIR,
} from "../src/commands/network.js";
import { runJson } from "./helpers.js";

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
const assets = join(packageRoot, "assets", "monitoring");
const dir = mkdtempSync(join(tmpdir(), "medledger-cli-network-"));
const hasPromtool = spawnSync("sh", ["-c", "command -v promtool"]).status === 0;

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The lines of one top-level service of a compose file, up to the next service or section. */
function serviceBlock(compose: string, name: string): string {
  const lines = compose.split("\n");
  const start = lines.indexOf(`  ${name}:`);
  expect(start, `service ${name}`).toBeGreaterThan(0);
  const end = lines.findIndex((line, index) => index > start && /^ {0,2}\S/.test(line));
  return lines.slice(start, end).join("\n");
}

/** The relative paths of every file under `root`. */
function filesUnder(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: "utf8" })
    .filter((path) => statSync(join(root, path)).isFile())
    .sort();
}

function checkMonitoringProfile(out: string): void {
  const compose = readFileSync(join(out, "docker-compose.yml"), "utf8");

  const prometheus = serviceBlock(compose, "prometheus");
  expect(prometheus).toContain('profiles: ["monitoring"]');
  expect(prometheus).toContain('- "./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro"');

  const grafana = serviceBlock(compose, "grafana");
  expect(grafana).toContain('image: "grafana/grafana-oss:11.1.0"');
  expect(grafana).toContain('profiles: ["monitoring"]');
  expect(grafana).toContain('- "127.0.0.1:3000:3000"');
  expect(grafana).toMatch(/depends_on:\n {6}- prometheus$/m);
  expect(grafana).toContain('GF_SECURITY_ADMIN_PASSWORD__FILE: "/run/medledger/admin.password"');
  expect(grafana).toContain(`- "./${GRAFANA_PASSWORD_FILE}:/run/medledger/admin.password:ro"`);
  for (const off of [
    "GF_AUTH_ANONYMOUS_ENABLED",
    "GF_USERS_ALLOW_SIGN_UP",
    "GF_ANALYTICS_REPORTING_ENABLED",
    "GF_ANALYTICS_CHECK_FOR_UPDATES",
  ]) {
    expect(grafana).toContain(`${off}: "false"`);
  }
  expect(grafana).toContain('- "./grafana/provisioning:/etc/grafana/provisioning:ro"');
  expect(grafana).toContain('- "./grafana/dashboards:/etc/grafana/dashboards:ro"');
  expect(grafana).toContain('- "grafana-data:/var/lib/grafana"');
  expect(compose).toMatch(/^volumes:\n(?: {2}\S+: \{\}\n)*? {2}grafana-data: \{\}$/m);

  // Every asset is in OUT, byte for byte, under the same path.
  for (const path of filesUnder(assets)) {
    expect(readFileSync(join(out, path), "utf8"), path).toBe(readFileSync(join(assets, path), "utf8"));
    expect(statSync(join(out, path)).mode & 0o777, path).toBe(0o644);
  }

  // The dashboard parses and selects the provisioned datasource by its uid.
  const datasource = readFileSync(join(out, "grafana/provisioning/datasources/prometheus.yml"), "utf8");
  const uid = /^ {4}uid: (\S+)$/m.exec(datasource)?.[1];
  expect(uid).toBe("prometheus");
  expect(datasource).toMatch(/^ {4}type: prometheus$/m);
  expect(datasource).toMatch(/^ {4}url: http:\/\/prometheus:9090$/m); // the compose service
  const dashboards = readdirSync(join(out, "grafana/dashboards"));
  expect(dashboards).toEqual(["medledger.json"]);
  const dashboard = JSON.parse(readFileSync(join(out, "grafana/dashboards/medledger.json"), "utf8")) as {
    templating: {
      list: Array<{ name: string; type: string; query: unknown; current?: { value?: unknown } }>;
    };
    panels: Array<{ title: string; datasource?: { type: string; uid: string }; targets: unknown[] }>;
  };
  const variable = dashboard.templating.list.find((entry) => entry.type === "datasource");
  expect(variable?.query).toBe("prometheus");
  expect(variable?.current?.value).toBe(uid);
  expect(dashboard.panels.length).toBeGreaterThan(5);
  for (const panel of dashboard.panels) {
    expect(panel.datasource?.type, panel.title).toBe("prometheus");
    expect([`\${${variable?.name}}`, uid], panel.title).toContain(panel.datasource?.uid);
  }
  const provider = readFileSync(join(out, "grafana/provisioning/dashboards/medledger.yml"), "utf8");
  expect(provider).toMatch(/^ {6}path: \/etc\/grafana\/dashboards$/m); // where compose mounts them

  // Prometheus loads the rules; the rules file is YAML of the expected shape.
  const config = readFileSync(join(out, "prometheus/prometheus.yml"), "utf8");
  expect(config).toMatch(/^rule_files:\n {2}- alerts.yml$/m);
  for (let i = 0; i < 4; i++) expect(config).toContain(`- "node-${i}:8080"`);
  const alerts = readFileSync(join(out, "prometheus/alerts.yml"), "utf8");
  expect(alerts).not.toContain("\t");
  expect(alerts).toMatch(/^groups:\n {2}- name: medledger\n {4}rules:$/m);
  const names = [...alerts.matchAll(/^ {6}- alert: (\w+)$/gm)].map((match) => match[1]);
  expect(names).toEqual([
    "MedledgerNodeDown",
    "MedledgerNoLeader",
    "MedledgerApplyLag",
    "MedledgerHeightBehind",
    "MedledgerPeersMissing",
    "MedledgerMempoolBacklog",
    "MedledgerPeerMisbehaving",
  ]);
  expect([...alerts.matchAll(/^ {8}expr: \S/gm)]).toHaveLength(names.length);
  if (hasPromtool) {
    const checked = spawnSync("promtool", ["check", "config", join(out, "prometheus/prometheus.yml")], {
      encoding: "utf8",
    });
    expect(checked.stdout + checked.stderr).toContain("SUCCESS: 7 rules found");
    expect(checked.status).toBe(0);
  }

  // The password: random, readable to Grafana's uid 472 (0644), kept from the host's other users by
  // its 0700 directory.
  const password = readFileSync(join(out, GRAFANA_PASSWORD_FILE), "utf8");
  expect(password).toMatch(/^[A-Za-z0-9_-]{32}$/);
  expect(statSync(join(out, GRAFANA_PASSWORD_FILE)).mode & 0o777).toBe(0o644);
  expect(statSync(join(out, "grafana")).mode & 0o777).toBe(0o700);
  expect(statSync(join(out, "grafana/provisioning")).mode & 0o777).toBe(0o755);
}

describe("network create --docker: the monitoring profile", () => {
  it("finds the assets from src/ under vitest", () => {
    expect(MONITORING_ASSETS_DIR.replace(/\/$/, "")).toBe(assets);
    expect(filesUnder(assets)).toEqual([
      "grafana/dashboards/medledger.json",
      "grafana/provisioning/dashboards/medledger.yml",
      "grafana/provisioning/datasources/prometheus.yml",
      "prometheus/alerts.yml",
    ]);
    expect(describeNetworkLayout()).toContain("OUT/grafana/admin.password");
  });

  it("is complete when written by the source module", async () => {
    const out = join(dir, "from-src");
    await createNetworkFiles({
      nodes: 4,
      out,
      chain: "network-src",
      basePort: 7000,
      apiBasePort: 8080,
      docker: true,
    });
    checkMonitoringProfile(out);
  });

  it("is complete when written by the built binary (assets found from dist/), with a new password", async () => {
    const out = join(dir, "from-dist");
    const summary = await runJson<{ docker: boolean }>([
      "network",
      "create",
      "--nodes",
      "4",
      "--out",
      out,
      "--docker",
      "--chain",
      "network-dist",
    ]);
    expect(summary.docker).toBe(true);
    checkMonitoringProfile(out);
    const password = (name: string) => readFileSync(join(dir, name, GRAFANA_PASSWORD_FILE), "utf8");
    expect(password("from-dist")).not.toBe(password("from-src"));
  });

  it("writes no monitoring files without --docker", async () => {
    const out = join(dir, "local");
    await createNetworkFiles({
      nodes: 3,
      out,
      chain: "network-local",
      basePort: 7000,
      apiBasePort: 8080,
      docker: false,
    });
    expect(readdirSync(out).sort()).toEqual([
      "genesis.json",
      "members",
      "network.json",
      "node-0",
      "node-1",
      "node-2",
    ]);
  });
});
