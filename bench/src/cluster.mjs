// A cluster of real node processes (bench/src/node-process.mjs over the built packages), each with its
// own data directory, libp2p TCP port and HTTP API on 127.0.0.1: the test harness's approach
// (test/harness/process-cluster.ts) in plain JavaScript, with the API on and a wipe-and-rejoin for the
// catch-up measurement.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { freePorts, peerIdFromPublicKey } from "@medledger/node";
import { publicKeyFromSecretKey, publicKeyToDid, sha256, toHex, utf8 } from "@medledger/protocol";
import { nodeSigner } from "@medledger/protocol/node";

const here = dirname(fileURLToPath(import.meta.url));
const child_script = join(here, "node-process.mjs");
const ready_timeout_ms = 60_000;
export const admin_token = "bench-admin-token-0123456789abcdef0123456789abcdef";

/** A deterministic secret key named `name`. */
export function secretOf(name) {
  return sha256(utf8(`medledger-bench:${name}`));
}

/** Every cluster not yet destroyed: killed (SIGKILL) if the driver fails or is interrupted. */
const live = new Set();

export function killAll() {
  for (const cluster of live) {
    for (const running of cluster.running.values()) running.child.kill("SIGKILL");
    rmSync(cluster.root, { recursive: true, force: true });
  }
  live.clear();
}

export class Cluster {
  /**
   * Lays out `size` founding members with one node each, plus `spares` members (with one node each)
   * that are not in the genesis: they join later by a member vote (nothing started).
   */
  static async create(size, name, spares = 0) {
    const ports = await freePorts(2 * (size + spares));
    return new Cluster(size, name, ports, spares);
  }

  constructor(founders, name, ports, spares) {
    const size = founders + spares;
    this.founders = founders;
    this.size = size;
    this.chain = `bench-${name}`;
    this.memberSecrets = Array.from({ length: size }, (_, i) => secretOf(`${name}-member-${i}`));
    this.members = this.memberSecrets.map((secret) => nodeSigner(secret));
    this.secrets = Array.from({ length: size }, (_, i) => secretOf(`${name}-node-${i}`));
    this.nodeIds = this.secrets.map((secret) => publicKeyToDid(publicKeyFromSecretKey(secret)));
    this.root = mkdtempSync(join(tmpdir(), `medledger-bench-${name}-`));
    this.dirs = this.nodeIds.map((_, i) => join(this.root, `node-${i}`));
    this.listen = ports.slice(0, size).map((port) => `/ip4/127.0.0.1/tcp/${port}`);
    this.apiPorts = ports.slice(size);
    this.addresses = this.secrets.map(
      (secret, i) => `${this.listen[i]}/p2p/${peerIdFromPublicKey(publicKeyFromSecretKey(secret))}`,
    );
    this.genesis = {
      chain: this.chain,
      time: Date.now() - 1000,
      members: this.members
        .slice(0, founders)
        .map((member, i) => ({ member: member.did, nodes: [this.nodeIds[i]] })),
    };
    this.apiUrls = this.apiPorts.map((port) => `http://127.0.0.1:${port}`);
    this.running = new Map();
    this.seq = 0;
    live.add(this);
  }

  /** Starts node `index` (with extra node flags, e.g. --cpu-prof) and resolves when it is ready. */
  async start(index, { execArgv = [] } = {}) {
    const config = {
      dataDir: this.dirs[index],
      genesis: this.genesis,
      secret: toHex(this.secrets[index]),
      listen: [this.listen[index]],
      peers: this.addresses.filter((_, other) => other !== index && other < this.founders),
      // tickMs: the node's default (100 ms; election timeout 1 s), as in production.
      apiPort: this.apiPorts[index],
      adminToken: admin_token,
    };
    const child = spawn(process.execPath, [...execArgv, child_script, JSON.stringify(config)], {
      cwd: this.root,
      stdio: ["pipe", "pipe", "pipe"],
    });
    const pending = new Map();
    const exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const ready = new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`node ${index} not ready: ${stderr}`)),
        ready_timeout_ms,
      );
      exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`node ${index} exited with ${code}: ${stderr}`));
      });
      createInterface({ input: child.stdout }).on("line", (line) => {
        let message;
        try {
          message = JSON.parse(line);
        } catch {
          return;
        }
        if (message.event === "ready") {
          clearTimeout(timer);
          resolve();
          return;
        }
        const answer = pending.get(message.seq);
        pending.delete(message.seq);
        answer?.(message);
      });
    });
    this.running.set(index, { child, pending, exited, pid: child.pid });
    await ready;
  }

  /** Starts the founding nodes. */
  async startAll(options = {}) {
    await Promise.all(this.nodeIds.slice(0, this.founders).map((_, i) => this.start(i, options)));
  }

  /** The ledger status of node `index` over its stdin pipe, or null. */
  async status(index) {
    const running = this.running.get(index);
    if (running === undefined) return null;
    const seq = this.seq++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        running.pending.delete(seq);
        resolve(null);
      }, 10_000);
      running.pending.set(seq, (answer) => {
        clearTimeout(timer);
        resolve(answer.status ?? null);
      });
      running.child.stdin.write(`${JSON.stringify({ seq, op: "status" })}\n`);
    });
  }

  /** Waits until every running node names the same leader; returns its index. */
  async waitForLeader(timeout_ms = 30_000) {
    const deadline = Date.now() + timeout_ms;
    while (Date.now() < deadline) {
      const statuses = await Promise.all([...this.running.keys()].map((i) => this.status(i)));
      const leaders = new Set(statuses.map((s) => s?.leader || null));
      const leader = statuses[0]?.leader || null;
      if (leaders.size === 1 && leader !== null && this.nodeIds.includes(leader))
        return this.nodeIds.indexOf(leader);
      await sleep(100);
    }
    throw new Error("no leader elected");
  }

  /** SIGTERM (clean stop: profile written, WAL checkpointed) and wait. */
  async stop(index) {
    const running = this.running.get(index);
    if (running === undefined) return;
    running.child.kill("SIGTERM");
    const code = await Promise.race([running.exited, sleep(20_000).then(() => "timeout")]);
    if (code === "timeout") {
      running.child.kill("SIGKILL");
      await running.exited;
    }
    this.running.delete(index);
  }

  async stopAll() {
    await Promise.all([...this.running.keys()].map((i) => this.stop(i)));
  }

  /** Removes node `index`'s data directory (it must be stopped): it rejoins as a new, empty node. */
  wipe(index) {
    if (this.running.has(index)) throw new Error(`node ${index} runs`);
    rmSync(this.dirs[index], { recursive: true, force: true });
  }

  chainDbPath(index) {
    return join(this.dirs[index], "chain.db");
  }

  hasDb(index) {
    return existsSync(this.chainDbPath(index));
  }

  async destroy() {
    await this.stopAll();
    rmSync(this.root, { recursive: true, force: true });
    live.delete(this);
  }
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
