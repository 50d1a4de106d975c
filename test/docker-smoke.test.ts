// Goal: the Docker deployment (deploy/) stays consistent with the code, and, opt-in, really runs.
// Always (no Docker needed, a second): the scripts parse and are executable, the Dockerfile keeps its
// contract (base image argument, every workspace package the CLI needs, non-root user, health check,
// entrypoint), the build context excludes dependencies and build output, the health check script
// parses, the Grafana dashboard uses only documented metrics, and docker-compose (when installed)
// accepts the compose file that `network create --docker` writes, with and without its monitoring
// profile (Prometheus, alert rules, Grafana; packages/cli/test/network.test.ts checks those files).
// Opt-in (MEDLEDGER_DOCKER_SMOKE=1, as root): deploy/smoke.sh, a 4-node network in containers on this
// machine (minutes; it installs Docker from Debian and starts its own daemon). Without the variable
// that test is not registered at all.
import { spawn, spawnSync } from "node:child_process";
import { accessSync, constants, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createNetworkFiles } from "../packages/cli/src/commands/network.js";

const root = join(import.meta.dirname, "..");
const deploy = join(root, "deploy");
const monitoring = "packages/cli/assets/monitoring";
const read = (path: string) => readFileSync(join(root, path), "utf8");
const has = (command: string) => spawnSync("sh", ["-c", `command -v ${command}`]).status === 0;

describe("the Docker deployment files", () => {
  it("has executable scripts that bash parses", () => {
    for (const script of ["smoke.sh", "base-image.sh"]) {
      const path = join(deploy, script);
      accessSync(path, constants.X_OK);
      const parsed = spawnSync("bash", ["-n", path], { encoding: "utf8" });
      expect(parsed.stderr).toBe("");
      expect(parsed.status).toBe(0);
    }
  });

  it("keeps the Dockerfile's contract", () => {
    const dockerfile = read("deploy/Dockerfile");
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:22-bookworm-slim$/m);
    expect(dockerfile).toMatch(/^FROM \$\{NODE_IMAGE\} AS build$/m);
    expect(dockerfile).toMatch(/^FROM \$\{NODE_IMAGE\} AS runtime$/m);
    expect(dockerfile).toContain("corepack pnpm install --frozen-lockfile");
    expect(dockerfile).toContain("corepack pnpm install --prod --frozen-lockfile --offline");
    expect(dockerfile).toMatch(/^USER medledger$/m);
    expect(dockerfile).toMatch(/^VOLUME \["\/data"\]$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n\s+CMD \["node", "\/app\/healthcheck.mjs"\]$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "\/app\/packages\/cli\/dist\/main.js"\]$/m);
    expect(dockerfile).toMatch(/^CMD \["start", "--config", "\/config\/node.json"\]$/m);
  });

  it("copies every workspace package the CLI depends on into the image", () => {
    // The CLI's workspace dependencies, transitively.
    const manifest = (name: string) =>
      JSON.parse(read(`packages/${name}/package.json`)) as { dependencies?: Record<string, string> };
    const needed = new Set<string>();
    const visit = (name: string) => {
      if (needed.has(name)) return;
      needed.add(name);
      for (const [dependency, range] of Object.entries(manifest(name).dependencies ?? {})) {
        if (range.startsWith("workspace:")) visit(dependency.replace("@medledger/", ""));
      }
    };
    visit("cli");
    const dockerfile = read("deploy/Dockerfile");
    const loop = /for p in ([a-z ]+); do/.exec(dockerfile)?.[1]?.split(" ") ?? [];
    for (const name of needed) {
      expect(dockerfile).toContain(`COPY packages/${name}/package.json packages/${name}/`);
      expect(loop).toContain(name);
    }
    // network create --docker in the image reads the CLI's assets next to its dist/.
    expect(dockerfile).toContain("cp -r packages/cli/assets /app/packages/cli/assets");
  });

  it("keeps dependencies, build output and .git out of the build context", () => {
    const ignored = read(".dockerignore").split("\n");
    for (const pattern of ["**/node_modules", "**/dist", ".git"]) expect(ignored).toContain(pattern);
    expect(ignored).toContain("!deploy/healthcheck.mjs");
  });

  it("has a health check script that node parses", () => {
    const checked = spawnSync(process.execPath, ["--check", join(deploy, "healthcheck.mjs")], {
      encoding: "utf8",
    });
    expect(checked.stderr).toBe("");
    expect(checked.status).toBe(0);
  });

  it("has a Grafana dashboard whose queries use only metrics the node exports", () => {
    const dashboard = JSON.parse(read(`${monitoring}/grafana/dashboards/medledger.json`)) as {
      uid: string;
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
    };
    expect(dashboard.uid).toBe("medledger-overview");
    expect(dashboard.panels.length).toBeGreaterThan(5);
    // The metric names of docs/api.md (GET /metrics), plus Prometheus' own `up`.
    const documented = new Set([...read("docs/api.md").matchAll(/`(medledger_[a-z_]+)/g)].map((m) => m[1]));
    documented.add("up");
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) {
        for (const [name] of target.expr.matchAll(/\b(medledger_[a-z_]+|up)(?=\{)/g)) {
          const base = name.replace(/_(bucket|count|sum)$/, "");
          expect(documented, `${panel.title}: ${name}`).toContain(base);
        }
      }
    }
    for (const file of readdirSync(join(root, monitoring, "grafana/provisioning"), { recursive: true })) {
      if (String(file).endsWith(".yml"))
        expect(read(`${monitoring}/grafana/provisioning/${file}`)).toMatch(/^apiVersion: 1$/m);
    }
  });
});

describe("the compose file that network create --docker writes", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("is accepted by docker-compose, with and without the monitoring profile (Prometheus and Grafana)", async () => {
    const out = mkdtempSync(join(tmpdir(), "medledger-compose-"));
    dirs.push(out);
    await createNetworkFiles({
      nodes: 4,
      out: join(out, "net"),
      chain: "compose-check",
      basePort: 7000,
      apiBasePort: 8080,
      docker: true,
    });
    const net = join(out, "net");
    const compose = readFileSync(join(net, "docker-compose.yml"), "utf8");
    for (let i = 0; i < 4; i++) expect(compose).toContain(`  node-${i}:`);
    expect(compose).toContain('image: "medledger:local"');
    expect(compose).toContain('profiles: ["monitoring"]');
    if (!has("docker-compose")) return; // Validated by the suite wherever docker-compose is installed.
    const config = (...args: string[]) => {
      const checked = spawnSync(
        "docker-compose",
        ["-p", "compose-check", "-f", "docker-compose.yml", ...args],
        {
          cwd: net,
          encoding: "utf8",
        },
      );
      expect(checked.stderr, args.join(" ")).toBe("");
      expect(checked.status).toBe(0);
      return checked.stdout.trim().split("\n").sort();
    };
    config("config", "-q");
    config("--profile", "monitoring", "config", "-q");
    // docker-compose v1 lists every service whatever the profile; `up` without it starts only the nodes.
    expect(config("config", "--services")).toEqual([
      "grafana",
      "node-0",
      "node-1",
      "node-2",
      "node-3",
      "prometheus",
    ]);
    expect(config("config", "--profiles")).toEqual(["monitoring"]);
  });
});

// Opt-in: registered only when MEDLEDGER_DOCKER_SMOKE=1 (see the file's header).
if (process.env.MEDLEDGER_DOCKER_SMOKE === "1") {
  describe("the Docker smoke test (MEDLEDGER_DOCKER_SMOKE=1)", () => {
    it("runs a 4-node network in containers: scenario, agreement, teardown", async () => {
      const summary = join(mkdtempSync(join(tmpdir(), "medledger-smoke-summary-")), "summary.txt");
      const status = await new Promise<number | null>((resolve) => {
        const child = spawn("bash", [join(deploy, "smoke.sh")], {
          cwd: root,
          env: { ...process.env, MEDLEDGER_SMOKE_SUMMARY: summary },
          stdio: ["ignore", "inherit", "inherit"],
        });
        child.on("exit", (code) => resolve(code));
      });
      expect(status).toBe(0);
      const text = readFileSync(summary, "utf8");
      expect(text).toContain("PASSED");
      rmSync(join(summary, ".."), { recursive: true, force: true });
    }, 1_800_000);
  });
}
