// Goal: a node killed at any moment keeps a sound chain database: it opens, passes integrity_check,
// holds everything it reported durable, and nothing is half-applied (tip, chain state, blocks and
// audit rows agree). Method: a child process (the production storage code, loaded through Vite's module
// runner) persists Raft Readies and applies blocks in a loop, printing each committed index; it is
// SIGKILLed at random moments several times over the same file, and each time the parent checks it.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { bootstrapSnapshot } from "@medledger/consensus";
import { bytesEqual } from "@medledger/protocol";
import { afterAll, describe, expect, it } from "vitest";
import { openChainDb } from "../src/storage/index.js";

const dir = mkdtempSync(join(tmpdir(), "medledger-crash-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CHILD = fileURLToPath(new URL("./fixtures/storage-crash-child.mjs", import.meta.url));
const require = createRequire(import.meta.url);
const VITE_PATH = pathToFileURL(createRequire(require.resolve("vitest/package.json")).resolve("vite")).href;
const KILLS = 6;

interface Reported {
  raft: number;
  commit: number;
  applied: number;
  height: number;
  audit: number;
  lines: number;
}

/** Starts the child and kills it `delayMs` after its first applied block; resolves with what it reported. */
function runAndKill(path: string, delayMs: number): Promise<Reported> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [CHILD, path], {
      env: { ...process.env, VITE_PATH },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const reported: Reported = { raft: 0, commit: 0, applied: 0, height: 0, audit: 0, lines: 0 };
    let buffer = "";
    let stderr = "";
    let armed = false;
    child.stderr?.on("data", (data: Buffer) => {
      stderr += data.toString();
    });
    child.stdout?.on("data", (data: Buffer) => {
      buffer += data.toString();
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const line of lines) {
        const [kind, a, b, c] = line.split(" ").map((part, i) => (i === 0 ? part : Number(part)));
        reported.lines += 1;
        if (kind === "raft") {
          reported.raft = a as number;
          reported.commit = b as number;
        } else if (kind === "applied") {
          reported.applied = a as number;
          reported.height = b as number;
          reported.audit = c as number;
          if (!armed) {
            armed = true;
            setTimeout(() => child.kill("SIGKILL"), delayMs);
          }
        }
      }
    });
    child.on("exit", (_code, signal) => {
      if (signal === "SIGKILL") resolve(reported);
      else reject(new Error(`child exited without being killed: ${stderr}`));
    });
  });
}

describe("crash safety", () => {
  it(`keeps a sound database across ${KILLS} SIGKILLs at random moments`, async () => {
    const path = join(dir, "chain.db");
    const delays = Array.from({ length: KILLS }, () => Math.floor(Math.random() * 400));
    let previousHeight = 0;
    for (const [round, delayMs] of delays.entries()) {
      const context = `round ${round}, delays ${JSON.stringify(delays)}`;
      const reported = await runAndKill(path, delayMs);
      const db = openChainDb({ path });
      try {
        expect(db.integrityCheck(), context).toEqual({ ok: true, problems: [] });
        const raft = db.raftStorage({ bootstrap: bootstrapSnapshot({ voters: ["a"], learners: [] }) });
        const tip = db.blocks.tip();
        const chain = db.state.getChain();
        if (tip === null || chain === null) throw new Error(`no tip after the kill (${context})`);
        // What the child reported durable is there.
        expect(raft.lastIndex(), context).toBeGreaterThanOrEqual(reported.raft);
        expect(raft.initialState().hardState.commit, context).toBeGreaterThanOrEqual(reported.commit);
        expect(tip.appliedIndex, context).toBeGreaterThanOrEqual(reported.applied);
        expect(tip.height, context).toBeGreaterThanOrEqual(Math.max(reported.height, previousHeight));
        expect(tip.appliedIndex, context).toBeLessThanOrEqual(raft.lastIndex());
        // Nothing is half-applied: tip, chain state, blocks and audit rows tell the same story.
        expect(chain.height, context).toBe(tip.height);
        expect(bytesEqual(chain.appHash, tip.appHash), context).toBe(true);
        const top = db.sqlite.prepare("SELECT max(height) AS h FROM blocks").get() as { h: number };
        expect(top.h, context).toBe(tip.height);
        expect(db.blocks.blockAt(tip.height)?.hash, context).toEqual(tip.blockHash);
        const audit = db.sqlite.prepare("SELECT count(*) AS n FROM audit").get() as { n: number };
        const logged = db.sqlite.prepare("SELECT count(*) AS n FROM txs WHERE height > 2").get() as {
          n: number;
        };
        expect(audit.n, context).toBe(logged.n);
        expect(audit.n, context).toBeGreaterThanOrEqual(reported.audit);
        previousHeight = tip.height;
      } finally {
        db.close();
      }
    }
    expect(previousHeight).toBeGreaterThan(KILLS);
  }, 120_000);
});
