// Goal: every failure is ONE line on stderr ("medledger: <CODE>: <message>") with the documented exit
// code (2 usage, 3 not found, 4 refused), --help prints the exit codes, and a node's options resolve
// flags > environment > config file > defaults. Method: the built binary for the errors (no node
// runs), resolveNodeOptions directly for the precedence.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { resolveNodeOptions } from "../src/config.js";
import { run } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "medledger-cli-usage-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function expectOneLine(args: string[], exitCode: number, pattern: RegExp): Promise<void> {
  const result = await run(args);
  expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(exitCode);
  const lines = result.stderr.trim().split("\n");
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^medledger: [A-Z_]+: /);
  expect(lines[0]).toMatch(pattern);
}

describe("errors and exit codes", () => {
  it("answers bad flags with exit 2 and one line", async () => {
    await expectOneLine(["status", "--bogus"], 2, /USAGE: unknown option '--bogus'/);
    await expectOneLine(["network", "create", "--out", dir], 2, /USAGE: required option '--nodes <n>'/);
    await expectOneLine(["start", "--api.port", "nope"], 2, /a port is an integer/);
    await expectOneLine(["start"], 2, /no data directory/);
    await expectOneLine(
      ["consent", "grant", "--key", "k", "--grantee", "nope", "--purposes", "TREAT"],
      2,
      /expected a did:key/,
    );
    await expectOneLine(["nonsense"], 2, /USAGE: unknown command 'nonsense'/);
  });

  it("answers a missing file or data directory with exit 3", async () => {
    await expectOneLine(["verify", "--data-dir", join(dir, "absent")], 3, /NOT_FOUND: .*holds no chain.db/);
    await expectOneLine(
      ["patient", "register", "--key", join(dir, "absent.key"), "--api", "http://127.0.0.1:9"],
      3,
      /NOT_FOUND: no such file/,
    );
  });

  it("refuses to overwrite with exit 4, and fails an unreachable node with exit 1", async () => {
    const key = join(dir, "a.key");
    expect((await run(["keygen", "--out", key])).stdout).toMatch(/^did:key:z/);
    await expectOneLine(["keygen", "--out", key], 4, /NOT_EMPTY: .* exists/);
    await expectOneLine(["status", "--api", "http://127.0.0.1:9"], 1, /CLIENT_NETWORK/);
  });

  it("prints the exit codes in --help, of the program and of each command", async () => {
    for (const args of [["--help"], ["start", "--help"], ["consent", "grant", "--help"]]) {
      const result = await run(args);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain("Exit codes:");
      expect(result.stdout).toContain("4  refused or denied");
    }
  });
});

describe("resolveNodeOptions", () => {
  const config = join(dir, "config.json");
  writeFileSync(
    config,
    JSON.stringify({
      dataDir: "data",
      api: { port: 9001, host: "0.0.0.0" },
      p2p: { peers: ["/ip4/1.2.3.4/tcp/1"] },
    }),
  );

  it("takes flags over the environment over the config file over the defaults", () => {
    const fromFile = resolveNodeOptions({ config }, {});
    expect(fromFile).toMatchObject({
      dataDir: join(dir, "data"),
      genesis: join(dir, "data", "genesis.json"),
      key: join(dir, "data", "node.key"),
      apiHost: "0.0.0.0",
      apiPort: 9001,
      peers: ["/ip4/1.2.3.4/tcp/1"],
      listen: ["/ip4/0.0.0.0/tcp/7000"],
      logLevel: "info",
      tickMs: 100,
    });
    const env = { MEDLEDGER_API_PORT: "9002", MEDLEDGER_P2P_PEERS: "/ip4/5.6.7.8/tcp/2,/ip4/5.6.7.9/tcp/3" };
    expect(resolveNodeOptions({ config }, env)).toMatchObject({
      apiPort: 9002,
      peers: ["/ip4/5.6.7.8/tcp/2", "/ip4/5.6.7.9/tcp/3"],
    });
    expect(resolveNodeOptions({ config, "api.port": 9003, "log.level": "debug" }, env)).toMatchObject({
      apiPort: 9003,
      logLevel: "debug",
    });
  });

  it("rejects an unknown field in the config file as a usage error", () => {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ api: { prot: 1 } }));
    expect(() => resolveNodeOptions({ config: bad, dataDir: dir }, {})).toThrow(
      expect.objectContaining({ code: "CONFIG_INVALID", exitCode: 2 }),
    );
  });
});
