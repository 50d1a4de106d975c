// Goal: `medledger demo` (the README's start command runs it) brings up three nodes, seeds them, shows
// every kind of decision, and stops cleanly on Ctrl-C. Method: spawn the built binary, read its output.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const binary = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "main.js");

describe("medledger demo", () => {
  it("seeds a 3-node consortium, prints the decisions, and stops on SIGINT", async () => {
    expect(existsSync(binary), `${binary} is missing: build first`).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), "medledger-cli-demo-"));
    try {
      const child = spawn(process.execPath, [binary, "demo", "--dir", dir], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
      });
      child.stderr.on("data", (chunk: Buffer) => {
        out += chunk.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      const deadline = Date.now() + 60_000;
      while (!out.includes("press Ctrl-C")) {
        if (Date.now() > deadline) throw new Error(`the demo did not come up:\n${out}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // The printed API URLs answer, and a status call shows 3 nodes and a leader.
      const urls = [...out.matchAll(/API (http:\/\/127\.0\.0\.1:\d+)/g)].map((match) => match[1] as string);
      expect(urls).toHaveLength(3);
      for (const url of urls) {
        const status = (await (await fetch(`${url}/status`)).json()) as {
          leader: string;
          peers: { connected: number };
          members: unknown[];
        };
        expect(status.leader).toMatch(/^did:key:/);
        expect(status.peers.connected).toBe(2);
        expect(status.members).toHaveLength(3);
      }
      child.kill("SIGINT");
      expect(await exited).toBe(0);
      expect(out).toContain("3 hospital nodes");
      expect(out).toMatch(/Dr Adams reads labs for TREAT: permitted \(consent\)/);
      expect(out).toMatch(/Dr Baker reads labs for TREAT: denied \(no-consent\)/);
      expect(out).toMatch(/reads labs for TREAT: denied \(consent-revoked\)/);
      expect(out).toMatch(/Dr Chen reads allergies for ETREAT: emergency/);
      expect(out).toMatch(/Dr Chen reads mental-health for ETREAT: denied/);
      expect(out).toMatch(/all 3 nodes agree: height \d+/);
      expect(out).toContain("demo stopped");
      expect(existsSync(join(dir, "node-0", "chain.db"))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it("answers a bad flag with a usage error and exit code 2", async () => {
    const child = spawn(process.execPath, [binary, "demo", "--base-port", "nope"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
    expect(code).toBe(2);
    expect(err).toContain("a port is an integer");
  });
});
