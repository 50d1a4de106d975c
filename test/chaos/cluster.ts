// A cluster of real node processes for the chaos suite (test/chaos/chaos-node.mjs over the built
// packages). With namespaces (NamespaceNetwork) each node runs under `ip netns exec` with its own
// address; faults are links down and nftables drops. Without them (no permission) every node runs on
// 127.0.0.1 and the same faults are applied inside the processes through the node's `faults` hooks
// (the "process" mode, said in the report). Both modes SIGKILL, SIGSTOP, SIGCONT and restart nodes.
// Two options add to the cluster: `byzantine` puts one more member in the genesis whose node is
// test/chaos/byzantine-node.mjs (a Raft voter that attacks when told to), and `delayProxy` makes every
// node reach the others through a userspace TCP proxy in this process (test/chaos/proxy.ts), which
// delays traffic while the delay nemesis runs.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import {
  type Genesis,
  publicKeyFromSecretKey,
  publicKeyToDid,
  sha256,
  toHex,
  utf8,
} from "@medledger/protocol";
import { NamespaceNetwork, namespacesAllowed, sweepStale } from "./netns.js";
import { DelayProxy } from "./proxy.js";

const here = dirname(fileURLToPath(import.meta.url));
const child_script = join(here, "chaos-node.mjs");
const byzantine_script = join(here, "byzantine-node.mjs");
const answer_timeout_ms = 120_000;
const built_node = join(here, "..", "..", "packages", "node", "dist", "index.js");
const ready_timeout_ms = 30_000;
const p2p_port = 7000;
const api_port = 8000;

function unmount(dir: string): void {
  try {
    execFileSync("umount", ["-l", dir], { stdio: "pipe" });
  } catch {
    // Already gone.
  }
}

/** Unmounts the tmpfs data directories of chaos runs whose process is gone. */
export function sweepStaleMounts(): void {
  let mounts = "";
  try {
    mounts = readFileSync("/proc/mounts", "utf8");
  } catch {
    return;
  }
  for (const line of mounts.split("\n")) {
    const target = line.split(" ")[1] ?? "";
    const match = /\/medledger-chaos-(\d+)-/.exec(target);
    if (match === null || !line.startsWith("medledger-chaos ")) continue;
    try {
      process.kill(Number(match[1]), 0);
    } catch {
      unmount(target);
    }
  }
}

/** A deterministic 32-byte secret named `name`. */
export function chaosSecret(name: string): Uint8Array {
  return sha256(utf8(`medledger-chaos:${name}`));
}

/** The node secret of the byzantine member of cluster `name`. */
function byzantineSecret(name: string): Uint8Array {
  return chaosSecret(`${name}-byzantine-node`);
}

export type FaultMode = "namespaces" | "process";

interface Running {
  child: ChildProcess;
  exited: Promise<number | null>;
  paused: boolean;
  /** Set when the harness ends the process (so its exit is no crash). */
  stopping: boolean;
  /** Requests waiting for the process's answer line, by sequence number. */
  pending: Map<number, (answer: Record<string, unknown>) => void>;
}

/** What a node process counted (see chaos-node.mjs): log lines by level, message and peer suffix. */
export interface NodeCounters {
  counts: Record<string, number>;
  halted: string | null;
  status: Record<string, unknown>;
}

/** The byzantine member of a cluster (created with `byzantine: true`). */
export interface ByzantineMember {
  /** Its node's DID (a Raft voter) and libp2p peer id. */
  readonly did: string;
  readonly peerId: string;
  readonly memberSecret: Uint8Array;
  readonly secret: Uint8Array;
  readonly host: string;
  readonly port: number;
}

/** What the cluster's network currently suffers, per node. */
interface NetState {
  dropFrom: Set<number>[];
  linkDown: boolean[];
  lossPercent: number[];
}

export class ChaosCluster {
  readonly genesis: Genesis;
  readonly chain: string;
  readonly memberSecrets: Uint8Array[];
  readonly nodeIds: string[];
  readonly dirs: string[];
  readonly adminToken = "chaos-admin-token-0123456789abcdef";
  readonly mode: FaultMode;
  readonly modeReason: string;
  readonly net: NamespaceNetwork | null;
  /** Where the harness's own HTTP requests come from (namespaces: the bridge's address). */
  readonly clientAddress: string;
  private readonly secrets: Uint8Array[];
  private readonly peerIds: string[] = [];
  private readonly hosts: string[];
  private readonly ports: { p2p: number; api: number }[];
  private readonly running = new Map<number, Running>();
  private readonly state: NetState;
  private readonly root: string;
  private readonly logs: string[];
  private readonly mounted: string[] = [];
  /** Unexpected exits of node processes (not caused by the harness). */
  readonly crashes: string[] = [];
  /** The byzantine member, when the cluster has one. */
  readonly byzantine: ByzantineMember | null;
  /** The delay proxy every node reaches its peers through, when the cluster has one. */
  readonly proxy: DelayProxy | null;
  private byzantineProcess: Running | null = null;
  private byzantineLog = "";
  /** Where each node process appends its log (info and above, and a status line every 5 s); null: none. */
  logDir: string | null = null;
  private proxyPorts: number[] = [];
  private seq = 0;

  private constructor(
    readonly size: number,
    name: string,
    options: {
      net: NamespaceNetwork | null;
      reason: string;
      ports: number[];
      byzantine?: { port: number; peerId: string };
      delayProxy?: boolean;
      seed?: number;
    },
  ) {
    if (!existsSync(built_node)) {
      throw new Error(`${built_node} is missing: build first (corepack pnpm run build)`);
    }
    this.net = options.net;
    this.mode = options.net === null ? "process" : "namespaces";
    this.modeReason = options.reason;
    this.chain = `chaos-${name}`;
    this.memberSecrets = Array.from({ length: size }, (_, index) => chaosSecret(`${name}-member-${index}`));
    this.secrets = Array.from({ length: size }, (_, index) => chaosSecret(`${name}-node-${index}`));
    this.nodeIds = this.secrets.map((secret) => publicKeyToDid(publicKeyFromSecretKey(secret)));
    this.root = mkdtempSync(join(tmpdir(), `medledger-chaos-${process.pid}-${name}-`));
    this.dirs = this.nodeIds.map((_, index) => join(this.root, `node-${index}`));
    this.logs = Array.from({ length: size }, () => "");
    this.hosts = Array.from({ length: size }, (_, index) => options.net?.address(index) ?? "127.0.0.1");
    this.ports = Array.from({ length: size }, (_, index) =>
      options.net === null
        ? { p2p: options.ports[2 * index] as number, api: options.ports[2 * index + 1] as number }
        : { p2p: p2p_port, api: api_port },
    );
    this.clientAddress = options.net?.hostAddress ?? "127.0.0.1";
    this.state = {
      dropFrom: Array.from({ length: size }, () => new Set<number>()),
      linkDown: Array.from({ length: size }, () => false),
      lossPercent: Array.from({ length: size }, () => 0),
    };
    this.byzantine = null;
    if (options.byzantine !== undefined) {
      const secret = byzantineSecret(name);
      this.byzantine = {
        did: publicKeyToDid(publicKeyFromSecretKey(secret)),
        peerId: options.byzantine.peerId,
        memberSecret: chaosSecret(`${name}-byzantine-member`),
        secret,
        host: options.net?.address(size) ?? "127.0.0.1",
        port: options.net === null ? options.byzantine.port : p2p_port,
      };
    }
    this.proxy = options.delayProxy === true ? new DelayProxy(options.seed ?? 1) : null;
    this.genesis = {
      chain: this.chain,
      time: Date.now() - 1000,
      members: [
        ...this.memberSecrets.map((secret, index) => ({
          member: publicKeyToDid(publicKeyFromSecretKey(secret)),
          nodes: [this.nodeIds[index] as string],
        })),
        ...(this.byzantine === null
          ? []
          : [
              {
                member: publicKeyToDid(publicKeyFromSecretKey(this.byzantine.memberSecret)),
                nodes: [this.byzantine.did],
              },
            ]),
      ],
    };
  }

  /**
   * Lays out a cluster of `size` founding members with one node each. Uses namespaces unless
   * `forceProcess` or they are not permitted here.
   */
  static async create(
    size: number,
    name: string,
    options: {
      forceProcess?: boolean;
      /** One more genesis member whose node is the byzantine process (a Raft voter). */
      byzantine?: boolean;
      /** Nodes reach each other through the delay proxy. */
      delayProxy?: boolean;
      /** Seeds the proxy's jitter. */
      seed?: number;
    } = {},
  ): Promise<ChaosCluster> {
    const { freePorts, peerIdFromPublicKey } = await import("@medledger/node");
    let net: NamespaceNetwork | null = null;
    let reason = "";
    if (options.forceProcess === true) {
      reason = "process-level faults were asked for";
    } else {
      sweepStale();
      sweepStaleMounts();
      const allowed = namespacesAllowed();
      if (allowed.ok) {
        net = new NamespaceNetwork(size + (options.byzantine === true ? 1 : 0));
        if (options.delayProxy === true) net.proxied = { nodes: size, port: p2p_port };
        try {
          net.create();
        } catch (error) {
          net.destroy();
          net = null;
          reason = `namespaces could not be set up: ${String(error)}`;
        }
      } else {
        reason = `ip netns add is not permitted here (${allowed.reason}): process-level faults instead`;
      }
    }
    const extra = options.byzantine === true ? 1 : 0;
    const ports = net === null ? await freePorts(2 * size + extra) : [];
    const cluster = new ChaosCluster(size, name, {
      net,
      reason,
      ports,
      ...(options.byzantine === true
        ? {
            byzantine: {
              port: ports[2 * size] ?? 0,
              peerId: peerIdFromPublicKey(publicKeyFromSecretKey(byzantineSecret(name))).toString(),
            },
          }
        : {}),
      ...(options.delayProxy === true ? { delayProxy: true } : {}),
      ...(options.seed === undefined ? {} : { seed: options.seed }),
    });
    for (const secret of cluster.secrets) {
      cluster.peerIds.push(peerIdFromPublicKey(publicKeyFromSecretKey(secret)).toString());
    }
    if (cluster.proxy !== null) {
      try {
        await cluster.openProxy();
      } catch (error) {
        await cluster.destroy();
        throw error;
      }
    }
    return cluster;
  }

  /** Opens one proxy listener per node: on its bridge alias (namespaces) or a free port (process). */
  private async openProxy(): Promise<void> {
    const proxy = this.proxy as DelayProxy;
    const net = this.net;
    const sourceOf = (address: string): number =>
      net === null ? -1 : this.hosts.indexOf(address.replace(/^::ffff:/, ""));
    this.proxyPorts = await proxy.listen(
      this.nodeIds.map((_, index) => ({
        target: index,
        listenHost: net === null ? "127.0.0.1" : net.proxyAddress(index),
        listenPort: net === null ? 0 : p2p_port,
        targetHost: this.hosts[index] as string,
        targetPort: this.ports[index]?.p2p as number,
        sourceOf,
        ...(net === null
          ? {}
          : {
              localAddressFor: (address: string) => {
                const source = sourceOf(address);
                return source < 0 ? undefined : net.proxyAddress(source);
              },
            }),
      })),
    );
  }

  /** The address node `other` is dialled at by the other nodes: its proxy listener, or itself. */
  private peerAddress(other: number): string {
    if (this.proxy === null) return `${this.listenAddress(other)}/p2p/${this.peerIds[other]}`;
    const host = this.net === null ? "127.0.0.1" : this.net.proxyAddress(other);
    return `/ip4/${host}/tcp/${this.proxyPorts[other]}/p2p/${this.peerIds[other]}`;
  }

  /** The base URL of node `index`'s HTTP API. */
  apiUrl(index: number): string {
    return `http://${this.hosts[index]}:${this.ports[index]?.api}`;
  }

  private listenAddress(index: number): string {
    return `/ip4/${this.hosts[index]}/tcp/${this.ports[index]?.p2p}`;
  }

  /** Starts node `index` and resolves when it reports ready. */
  async start(index: number): Promise<void> {
    if (this.running.has(index)) throw new Error(`node ${index} is running`);
    mkdirSync(this.dirs[index] as string, { recursive: true });
    const config = {
      dataDir: this.dirs[index],
      genesis: this.genesis,
      secret: toHex(this.secrets[index] as Uint8Array),
      listen: [this.listenAddress(index)],
      peers: [
        ...this.nodeIds.flatMap((_, other) => (other === index ? [] : [this.peerAddress(other)])),
        ...(this.byzantine === null
          ? []
          : [`/ip4/${this.byzantine.host}/tcp/${this.byzantine.port}/p2p/${this.byzantine.peerId}`]),
      ],
      tickMs: 50,
      apiHost: this.hosts[index],
      apiPort: this.ports[index]?.api,
      adminToken: this.adminToken,
      ...(this.logDir === null ? {} : { logFile: join(this.logDir, `node-${index}.log`) }),
    };
    const command = [
      ...(this.net?.exec(index) ?? []),
      process.execPath,
      child_script,
      JSON.stringify(config),
    ];
    const child = spawn(command[0] as string, command.slice(1), {
      cwd: here,
      stdio: ["pipe", "pipe", "pipe"],
    });
    const exited = new Promise<number | null>((resolve) =>
      child.once("exit", (code, signal) => {
        const current = this.running.get(index);
        if (current?.child === child && !current.stopping) {
          this.running.delete(index);
          this.crashes.push(`node ${index} exited (${code ?? signal}): ${this.logs[index]?.slice(-500)}`);
        }
        resolve(code);
      }),
    );
    child.stderr?.on("data", (chunk: Buffer) => {
      this.logs[index] = (this.logs[index] + chunk.toString()).slice(-8000);
    });
    child.stdin?.on("error", () => undefined);
    const pending = new Map<number, (answer: Record<string, unknown>) => void>();
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`node ${index} not ready: ${this.logs[index]}`)),
        ready_timeout_ms,
      );
      exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`node ${index} exited with ${code}: ${this.logs[index]}`));
      });
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
        if (line.includes('"event":"ready"')) {
          clearTimeout(timer);
          resolve();
        } else answerLine(pending, line);
      });
    });
    this.running.set(index, { child, exited, paused: false, stopping: false, pending });
    await ready;
    this.applyProcessFaults(index);
  }

  /** What node `index` counted so far (null when it does not run or does not answer in time). */
  async counters(index: number): Promise<NodeCounters | null> {
    const running = this.running.get(index);
    if (running === undefined || running.paused) return null;
    const answer = await this.ask(running, { op: "counters" }, 5_000);
    return answer === null ? null : (answer as unknown as NodeCounters);
  }

  /** Sends one JSON-line request to a process and waits for the answer with its sequence number. */
  private ask(
    running: Running,
    request: Record<string, unknown>,
    timeoutMs = answer_timeout_ms,
  ): Promise<Record<string, unknown> | null> {
    const seq = ++this.seq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        running.pending.delete(seq);
        resolve(null);
      }, timeoutMs);
      running.pending.set(seq, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      running.exited.then(() => {
        if (running.pending.delete(seq)) {
          clearTimeout(timer);
          resolve(null);
        }
      });
      running.child.stdin?.write(`${JSON.stringify({ seq, ...request })}\n`);
    });
  }

  /** Starts the byzantine node (see byzantine-node.mjs) and resolves when it is ready. */
  async startByzantine(seed = 1): Promise<void> {
    const byzantine = this.byzantine;
    if (byzantine === null) throw new Error("this cluster has no byzantine member");
    if (this.byzantineProcess !== null) throw new Error("the byzantine node is running");
    const config = {
      secret: toHex(byzantine.secret),
      genesis: this.genesis,
      listen: `/ip4/${byzantine.host}/tcp/${byzantine.port}`,
      peers: this.nodeIds.map((did, index) => ({
        did,
        address: `${this.listenAddress(index)}/p2p/${this.peerIds[index]}`,
      })),
      seed,
    };
    const command = [
      ...(this.net?.exec(this.size) ?? []),
      process.execPath,
      byzantine_script,
      JSON.stringify(config),
    ];
    const child = spawn(command[0] as string, command.slice(1), {
      cwd: here,
      stdio: ["pipe", "pipe", "pipe"],
    });
    const pending = new Map<number, (answer: Record<string, unknown>) => void>();
    const running: Running = {
      child,
      exited: new Promise((resolve) => child.once("exit", (code) => resolve(code))),
      paused: false,
      stopping: false,
      pending,
    };
    child.stderr?.on("data", (chunk: Buffer) => {
      this.byzantineLog = (this.byzantineLog + chunk.toString()).slice(-8000);
    });
    child.stdin?.on("error", () => undefined);
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the byzantine node is not ready: ${this.byzantineLog}`)),
        ready_timeout_ms,
      );
      running.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`the byzantine node exited with ${code}: ${this.byzantineLog}`));
      });
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
        if (line.includes('"event":"ready"')) {
          clearTimeout(timer);
          resolve();
        } else answerLine(pending, line);
      });
    });
    this.byzantineProcess = running;
    await ready;
  }

  /** Runs one attack round of the byzantine node for `ms`; resolves with its report (null: no answer). */
  async byzantineRound(name: string, ms: number): Promise<Record<string, unknown> | null> {
    const running = this.byzantineProcess;
    if (running === null) throw new Error("the byzantine node does not run");
    return this.ask(running, { op: "round", name, ms }, ms + answer_timeout_ms);
  }

  /** The byzantine node's view: term, leader, last index and its counters. */
  async byzantineState(): Promise<Record<string, unknown> | null> {
    const running = this.byzantineProcess;
    return running === null ? null : this.ask(running, { op: "state" }, 5_000);
  }

  /** The end of the byzantine node's stderr. */
  byzantineStderr(): string {
    return this.byzantineLog;
  }

  /** Stops the byzantine node. */
  async stopByzantine(): Promise<void> {
    const running = this.byzantineProcess;
    if (running === null) return;
    this.byzantineProcess = null;
    running.stopping = true;
    running.child.kill("SIGKILL");
    await running.exited;
  }

  async startAll(): Promise<void> {
    await Promise.all(this.nodeIds.map((_, index) => this.start(index)));
  }

  isRunning(index: number): boolean {
    return this.running.has(index);
  }

  isPaused(index: number): boolean {
    return this.running.get(index)?.paused === true;
  }

  /** The last stderr of node `index`. */
  log(index: number): string {
    return this.logs[index] ?? "";
  }

  /** SIGKILL: resolves when the process is gone. */
  async kill(index: number): Promise<void> {
    await this.terminate(index, "SIGKILL");
  }

  /** SIGTERM (a clean stop): resolves when the process is gone. */
  async stop(index: number): Promise<void> {
    await this.terminate(index, "SIGTERM");
  }

  private async terminate(index: number, signal: NodeJS.Signals): Promise<void> {
    const running = this.running.get(index);
    if (running === undefined) return;
    running.stopping = true;
    if (running.paused) running.child.kill("SIGCONT");
    running.child.kill(signal);
    await running.exited;
    this.running.delete(index);
  }

  pause(index: number): void {
    const running = this.running.get(index);
    if (running === undefined || running.paused) return;
    running.child.kill("SIGSTOP");
    running.paused = true;
  }

  resume(index: number): void {
    const running = this.running.get(index);
    if (running === undefined || !running.paused) return;
    running.child.kill("SIGCONT");
    running.paused = false;
  }

  async restart(index: number): Promise<void> {
    await this.kill(index);
    await this.start(index);
  }

  /** Drops what `to` receives from each of `from` (one way). */
  dropOneWay(from: readonly number[], to: number): void {
    for (const source of from) if (source !== to) this.state.dropFrom[to]?.add(source);
    this.applyRules(to);
  }

  /** Cuts the cluster into `groups`: nodes in different groups hear nothing from each other. */
  partition(groups: readonly (readonly number[])[]): void {
    for (const group of groups) {
      const others = this.nodeIds.map((_, index) => index).filter((index) => !group.includes(index));
      for (const member of group) {
        this.state.dropFrom[member] = new Set(others);
        this.applyRules(member);
      }
    }
  }

  /** `percent` % of packets to and from every node are lost. */
  loss(percent: number): void {
    for (let index = 0; index < this.size; index++) {
      this.state.lossPercent[index] = percent;
      this.applyRules(index);
    }
  }

  /** Node `index`'s link up or down (process mode: it drops everything from and to every peer). */
  setLink(index: number, up: boolean): void {
    this.state.linkDown[index] = !up;
    if (this.net !== null) this.net.setLink(index, up);
    else for (let other = 0; other < this.size; other++) this.applyProcessFaults(other);
  }

  /** Removes every network fault. */
  heal(): void {
    for (let index = 0; index < this.size; index++) {
      this.state.dropFrom[index] = new Set();
      this.state.lossPercent[index] = 0;
      if (this.state.linkDown[index] === true) this.setLink(index, true);
      this.applyRules(index);
    }
  }

  private applyRules(index: number): void {
    if (this.net !== null) {
      this.net.resetRules(index, [...(this.state.dropFrom[index] ?? [])], this.state.lossPercent[index] ?? 0);
    } else {
      this.applyProcessFaults(index);
    }
  }

  /** Process mode: sends node `index` its drop lists (a link down drops both ways). */
  private applyProcessFaults(index: number): void {
    if (this.net !== null) return;
    const running = this.running.get(index);
    if (running === undefined) return;
    const cut = (other: number): boolean =>
      other !== index &&
      (this.state.linkDown[index] === true ||
        this.state.linkDown[other] === true ||
        this.state.dropFrom[index]?.has(other) === true);
    const dropFrom = this.peerIds.filter((_, other) => cut(other));
    const dropTo = this.peerIds.filter(
      (_, other) =>
        other !== index &&
        (this.state.linkDown[index] === true ||
          this.state.linkDown[other] === true ||
          this.state.dropFrom[other]?.has(index) === true),
    );
    running.child.stdin?.write(
      `${JSON.stringify({ op: "faults", dropFrom, dropTo, lossPercent: this.state.lossPercent[index] ?? 0 })}\n`,
    );
  }

  /** Stops every node (SIGTERM, SIGKILL after 10 s); keeps the data for the checker. */
  async stopAll(): Promise<void> {
    await this.stopByzantine();
    await Promise.all(
      [...this.running.keys()].map(async (index) => {
        const running = this.running.get(index) as Running;
        const timer = setTimeout(() => running.child.kill("SIGKILL"), 10_000);
        await this.stop(index);
        clearTimeout(timer);
      }),
    );
  }

  /** Kills every node, removes the namespaces and the data. Never throws. */
  async destroy(): Promise<void> {
    for (const running of this.running.values()) {
      running.stopping = true;
      running.child.kill("SIGCONT");
      running.child.kill("SIGKILL");
    }
    await Promise.all([...this.running.values()].map((running) => running.exited));
    this.running.clear();
    await this.stopByzantine();
    await this.proxy?.close();
    this.net?.destroy();
    for (const dir of this.mounted) unmount(dir);
    rmSync(this.root, { recursive: true, force: true });
  }

  /**
   * Puts every node's data directory on its own tmpfs of `sizeMb` (before the nodes start), so that a
   * disk can fill up. False where mounting is not permitted.
   */
  mountDataDirs(sizeMb: number): boolean {
    try {
      for (const dir of this.dirs) {
        mkdirSync(dir, { recursive: true });
        execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeMb}m,mode=0700`, "medledger-chaos", dir], {
          stdio: "pipe",
        });
        this.mounted.push(dir);
      }
      return true;
    } catch {
      for (const dir of this.mounted.splice(0)) unmount(dir);
      return false;
    }
  }

  /** Whether node `index`'s data directory is a tmpfs of its own. */
  hasOwnDisk(index: number): boolean {
    return this.mounted.includes(this.dirs[index] as string);
  }

  /** Free space on node `index`'s data directory, in whole MiB. */
  diskFreeMb(index: number): number {
    const stats = statfsSync(this.dirs[index] as string);
    return Math.floor((stats.bavail * stats.bsize) / 1_048_576);
  }

  /** Fills node `index`'s disk (its tmpfs) to the last byte; returns the filler's size in bytes. */
  fillDisk(index: number): number {
    const dir = this.dirs[index] as string;
    const stats = statfsSync(dir);
    const free = stats.bavail * stats.bsize;
    try {
      execFileSync("fallocate", ["-l", String(free), join(dir, "chaos-filler")], { stdio: "pipe" });
    } catch {
      writeFileSync(join(dir, "chaos-filler"), Buffer.alloc(0));
    }
    // Whatever is left (metadata rounding) goes too.
    try {
      writeFileSync(
        join(dir, "chaos-filler-rest"),
        Buffer.alloc(Math.max(0, statfsSync(dir).bavail * stats.bsize)),
      );
    } catch {
      // ENOSPC: full.
    }
    return free;
  }

  /** Frees node `index`'s disk again. */
  freeDisk(index: number): void {
    const dir = this.dirs[index] as string;
    rmSync(join(dir, "chaos-filler"), { force: true });
    rmSync(join(dir, "chaos-filler-rest"), { force: true });
  }
}

/** Hands an answer line ({"seq":n,...}) of a child process to the request waiting for it. */
function answerLine(pending: Map<number, (answer: Record<string, unknown>) => void>, line: string): void {
  let message: Record<string, unknown>;
  try {
    message = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return;
  }
  const resolve = pending.get(message.seq as number);
  if (resolve === undefined) return;
  pending.delete(message.seq as number);
  resolve(message);
}
