// A cluster of real node processes (test/fixtures/node-process.mjs over the built packages), each with
// its own SQLite data directory and TCP port on 127.0.0.1. It can SIGKILL, SIGSTOP, SIGCONT and restart
// nodes, and talks to each over a JSON-line pipe. The base of the multi-process and fault tests.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import {
  encodeSignedTx,
  type Genesis,
  publicKeyFromSecretKey,
  publicKeyToDid,
  type Signer,
  sha256,
  signTx,
  type TxBodies,
  type TxKind,
  toHex,
  utf8,
} from "@medledger/protocol";
import { nodeSigner } from "@medledger/protocol/node";

const here = dirname(fileURLToPath(import.meta.url));
const child_script = join(here, "..", "fixtures", "node-process.mjs");
const built_node = join(here, "..", "..", "packages", "node", "dist", "index.js");
const ready_timeout_ms = 30_000;
const request_timeout_ms = 60_000;

/** A deterministic secret key named `name`. */
export function secretOf(name: string): Uint8Array {
  return sha256(utf8(`medledger-process-test:${name}`));
}

/** A deterministic signer named `name`. */
export function signerOf(name: string): Signer {
  return nodeSigner(secretOf(name));
}

interface Running {
  child: ChildProcess;
  pending: Map<number, (answer: Record<string, unknown>) => void>;
  exited: Promise<number | null>;
}

/** N node processes of one chain. */
export class ProcessCluster {
  readonly genesis: Genesis;
  readonly chain: string;
  readonly members: Signer[];
  readonly nodeIds: string[];
  readonly dirs: string[];
  private readonly secrets: Uint8Array[];
  private readonly listen: string[] = [];
  private readonly addresses: string[] = [];
  private readonly running = new Map<number, Running>();
  private readonly root: string;
  private seq = 0;
  private nonce = 0;

  private constructor(size: number, name: string, ports: number[]) {
    if (!existsSync(built_node)) {
      throw new Error(`${built_node} is missing: build first (npm test does: corepack pnpm run build)`);
    }
    this.chain = `proc-${name}`;
    this.members = Array.from({ length: size }, (_, index) => signerOf(`${name}-member-${index}`));
    this.secrets = Array.from({ length: size }, (_, index) => secretOf(`${name}-node-${index}`));
    this.nodeIds = this.secrets.map((secret) => publicKeyToDid(publicKeyFromSecretKey(secret)));
    this.root = mkdtempSync(join(tmpdir(), `medledger-${name}-`));
    this.dirs = this.nodeIds.map((_, index) => join(this.root, `node-${index}`));
    this.genesis = {
      chain: this.chain,
      time: Date.now() - 1000,
      members: this.members.map((member, index) => ({
        member: member.did,
        nodes: [this.nodeIds[index] as string],
      })),
    };
    for (const port of ports) this.listen.push(`/ip4/127.0.0.1/tcp/${port}`);
  }

  /** Lays out a cluster of `size` founding members with one node each (nothing started yet). */
  static async create(size: number, name: string): Promise<ProcessCluster> {
    const { freePorts, peerIdFromPublicKey } = await import("@medledger/node");
    const cluster = new ProcessCluster(size, name, await freePorts(size));
    cluster.secrets.forEach((secret, index) => {
      cluster.addresses.push(
        `${cluster.listen[index]}/p2p/${peerIdFromPublicKey(publicKeyFromSecretKey(secret))}`,
      );
    });
    return cluster;
  }

  /** Starts node `index` and resolves when it reports ready. */
  async start(index: number): Promise<void> {
    if (this.running.has(index)) throw new Error(`node ${index} is running`);
    const config = {
      dataDir: this.dirs[index],
      genesis: this.genesis,
      secret: toHex(this.secrets[index] as Uint8Array),
      listen: [this.listen[index]],
      peers: this.addresses.filter((_, other) => other !== index),
      tickMs: 50,
    };
    const child = spawn(process.execPath, [child_script, JSON.stringify(config)], {
      cwd: join(here, ".."),
      stdio: ["pipe", "pipe", "pipe"],
    });
    // A request written just as the node is killed meets a closed pipe (EPIPE): it is answered by the
    // kill (KILLED) or its timeout, not by an unhandled stream error.
    child.stdin?.on("error", () => undefined);
    const pending = new Map<number, (answer: Record<string, unknown>) => void>();
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`node ${index} not ready: ${stderr}`)),
        ready_timeout_ms,
      );
      exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`node ${index} exited with ${code}: ${stderr}`));
      });
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
        const message = JSON.parse(line) as Record<string, unknown>;
        if (message.event === "ready") {
          clearTimeout(timer);
          resolve();
          return;
        }
        const resolveAnswer = pending.get(message.seq as number);
        pending.delete(message.seq as number);
        resolveAnswer?.(message);
      });
    });
    this.running.set(index, { child, pending, exited });
    await ready;
  }

  /** Starts every node. */
  async startAll(): Promise<void> {
    await Promise.all(this.nodeIds.map((_, index) => this.start(index)));
  }

  /** Sends `signal` to node `index`; for SIGKILL and SIGTERM waits until it exited. */
  async signal(index: number, signal: NodeJS.Signals): Promise<void> {
    const running = this.running.get(index);
    if (running === undefined) return;
    running.child.kill(signal);
    if (signal === "SIGKILL" || signal === "SIGTERM") {
      await running.exited;
      this.running.delete(index);
      for (const answer of running.pending.values()) answer({ error: "KILLED" });
    }
  }

  /** True when node `index` runs. */
  isRunning(index: number): boolean {
    return this.running.has(index);
  }

  /** One request to node `index`; answers {error: "DOWN"} when it does not run. */
  async request(
    index: number,
    op: string,
    fields: Record<string, unknown> = {},
  ): Promise<Record<string, unknown>> {
    const running = this.running.get(index);
    if (running === undefined) return { error: "DOWN" };
    const seq = this.seq++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        running.pending.delete(seq);
        resolve({ error: "TIMEOUT" });
      }, request_timeout_ms);
      running.pending.set(seq, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      running.child.stdin?.write(`${JSON.stringify({ seq, op, ...fields })}\n`);
    });
  }

  /** The index of the node every running node names as leader, or -1. */
  async leader(): Promise<number> {
    const statuses = await Promise.all(this.nodeIds.map((_, index) => this.request(index, "status")));
    const leaders = statuses
      .map((answer) => (answer.status as { role?: string } | undefined)?.role)
      .flatMap((role, index) => (role === "leader" ? [index] : []));
    return leaders.length === 1 ? (leaders[0] as number) : -1;
  }

  /** An encoded transaction of `kind` by `signer`, live for ten minutes, in hex. */
  tx<K extends TxKind>(kind: K, signer: Signer, body: TxBodies[K]): string {
    const unsigned = {
      v: 1 as const,
      chain: this.chain,
      kind,
      signer: signer.did,
      nonce: this.nonce++,
      expires: Date.now() + 600_000,
      body,
    };
    return toHex(encodeSignedTx(signTx(unsigned, [signer])));
  }

  /** Stops every node (SIGTERM) and removes the data directories. */
  async destroy(): Promise<void> {
    await Promise.all([...this.running.keys()].map((index) => this.signal(index, "SIGKILL")));
    rmSync(this.root, { recursive: true, force: true });
  }
}
