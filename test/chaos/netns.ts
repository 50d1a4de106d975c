// The chaos suite's network: one Linux network namespace per node, each with a veth pair whose outer
// end is enslaved to one bridge in the root namespace. Addresses come from a private /24 (10.77.S.0/24,
// S picked per run) that exists only on that bridge and in these namespaces: no namespace has a default
// route, so no test packet can leave the machine. Faults: a link down (the outer veth end), nftables
// drops inside a namespace (from chosen peers: one-way or, on both sides, symmetric) and random loss
// (`numgen random mod 100 < P drop`). Every name carries the run's prefix (with the owning pid), so
// destroy() and a sweep of dead runs' leftovers remove exactly what a run made.
// With the delay proxy (`proxied`), the bridge also holds one alias address per node (10.77.S.111+i):
// the proxy listens for node i on its alias and connects to node i from the alias of the node that
// dialled, so a drop rule "from j" names j's address and j's alias. Each node's namespace rejects direct
// connections to the other nodes' p2p port (TCP reset), so peers only talk through the proxy.
import { execFileSync } from "node:child_process";

const ns_prefix = "medledger-chaos-";
const table = "mlchaos";

function run(args: string[], input?: string): string {
  return execFileSync(args[0] as string, args.slice(1), {
    encoding: "utf8",
    stdio: ["pipe", "pipe", "pipe"],
    ...(input === undefined ? {} : { input }),
  });
}

function tryRun(args: string[]): boolean {
  try {
    run(args);
    return true;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes the namespaces and bridges of chaos runs whose process is gone. */
export function sweepStale(): void {
  let names: string[] = [];
  try {
    names = run(["ip", "netns", "list"])
      .split("\n")
      .map((line) => line.split(" ")[0] ?? "");
  } catch {
    return;
  }
  for (const name of names) {
    const match = new RegExp(`^${ns_prefix}(\\d+)-`).exec(name);
    if (match !== null && !alive(Number(match[1]))) tryRun(["ip", "netns", "del", name]);
  }
  for (const line of run(["ip", "-o", "link", "show", "type", "bridge"]).split("\n")) {
    const match = /^\d+: (mlc([0-9a-z]+)br)[:@]/.exec(line);
    if (match !== null && !alive(Number.parseInt(match[2] as string, 36))) {
      tryRun(["ip", "link", "del", match[1] as string]);
    }
  }
}

/** Whether this process may create network namespaces and nftables rules (tries once, cleans up). */
export function namespacesAllowed(): { ok: boolean; reason: string } {
  const probe = `${ns_prefix}${process.pid}-probe`;
  try {
    run(["ip", "netns", "add", probe]);
    run(["ip", "netns", "exec", probe, "nft", "add", "table", "inet", table]);
    return { ok: true, reason: "" };
  } catch (error) {
    return { ok: false, reason: String((error as { stderr?: string }).stderr ?? error).trim() };
  } finally {
    tryRun(["ip", "netns", "del", probe]);
  }
}

/** The namespaces, links and rules of one run. */
export class NamespaceNetwork {
  readonly bridge: string;
  readonly subnet: string;
  readonly hostAddress: string;
  private readonly tag: string;
  private destroyed = false;
  /**
   * Set before create() when the first `nodes` namespaces reach each other through the delay proxy:
   * their aliases go on the bridge, and direct connections to `port` of another node are refused.
   */
  proxied: { nodes: number; port: number } | null = null;

  constructor(readonly size: number) {
    this.tag = process.pid.toString(36);
    this.bridge = `mlc${this.tag}br`;
    this.subnet = `10.77.${pickSubnet()}`;
    this.hostAddress = `${this.subnet}.1`;
  }

  namespace(index: number): string {
    return `${ns_prefix}${process.pid}-n${index}`;
  }

  address(index: number): string {
    return `${this.subnet}.${index + 11}`;
  }

  /** The bridge alias the delay proxy uses for node `index` (listens on it, connects from it). */
  proxyAddress(index: number): string {
    return `${this.subnet}.${index + 111}`;
  }

  private outer(index: number): string {
    return `mlc${this.tag}v${index}`;
  }

  /** Creates the bridge, the namespaces, their links and an empty nftables table in each. */
  create(): void {
    run(["ip", "link", "add", this.bridge, "type", "bridge"]);
    run(["ip", "addr", "add", `${this.hostAddress}/24`, "dev", this.bridge]);
    run(["ip", "link", "set", this.bridge, "up"]);
    for (let index = 0; index < (this.proxied?.nodes ?? 0); index++) {
      run(["ip", "addr", "add", `${this.proxyAddress(index)}/24`, "dev", this.bridge]);
    }
    for (let index = 0; index < this.size; index++) {
      const ns = this.namespace(index);
      run(["ip", "netns", "add", ns]);
      run(["ip", "link", "add", this.outer(index), "type", "veth", "peer", "name", "eth0", "netns", ns]);
      run(["ip", "link", "set", this.outer(index), "master", this.bridge]);
      run(["ip", "link", "set", this.outer(index), "up"]);
      run(["ip", "netns", "exec", ns, "ip", "addr", "add", `${this.address(index)}/24`, "dev", "eth0"]);
      run(["ip", "netns", "exec", ns, "ip", "link", "set", "eth0", "up"]);
      run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"]);
      this.resetRules(index, [], 0);
    }
  }

  /** The command prefix that runs a program inside node `index`'s namespace. */
  exec(index: number): string[] {
    return ["ip", "netns", "exec", this.namespace(index)];
  }

  /** Sets node `index`'s link up or down. */
  setLink(index: number, up: boolean): void {
    run(["ip", "link", "set", this.outer(index), up ? "up" : "down"]);
  }

  /**
   * Replaces node `index`'s rules: drop every packet from the nodes in `dropFrom` (its input) and
   * `lossPercent` % of every other packet to or from it.
   */
  resetRules(index: number, dropFrom: readonly number[], lossPercent: number): void {
    const lines = [
      `table inet ${table} {`,
      "  chain input {",
      "    type filter hook input priority 0; policy accept;",
    ];
    for (const other of dropFrom) {
      lines.push(`    ip saddr ${this.address(other)} drop`);
      if (this.proxied !== null) lines.push(`    ip saddr ${this.proxyAddress(other)} drop`);
    }
    if (lossPercent > 0) lines.push(`    numgen random mod 100 < ${lossPercent} drop`);
    lines.push("  }", "  chain output {", "    type filter hook output priority 0; policy accept;");
    const proxied = this.proxied;
    if (proxied !== null && index < proxied.nodes) {
      for (let other = 0; other < proxied.nodes; other++) {
        if (other === index) continue;
        lines.push(`    ip daddr ${this.address(other)} tcp dport ${proxied.port} reject with tcp reset`);
      }
    }
    if (lossPercent > 0) lines.push(`    numgen random mod 100 < ${lossPercent} drop`);
    lines.push("  }", "}");
    const ns = this.namespace(index);
    tryRun(["ip", "netns", "exec", ns, "nft", "delete", "table", "inet", table]);
    run(["ip", "netns", "exec", ns, "nft", "-f", "-"], `${lines.join("\n")}\n`);
  }

  /** Removes the namespaces (their veth pairs go with them) and the bridge. Idempotent, never throws. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (let index = 0; index < this.size; index++) tryRun(["ip", "netns", "del", this.namespace(index)]);
    tryRun(["ip", "link", "del", this.bridge]);
  }
}

/** A third octet in 100..249 that no route of this machine uses yet. */
function pickSubnet(): number {
  const routes = run(["ip", "-4", "route", "show"]);
  for (let attempt = 0; attempt < 200; attempt++) {
    const octet = 100 + ((process.pid + attempt) % 150);
    if (!routes.includes(`10.77.${octet}.`)) return octet;
  }
  throw new Error("no free 10.77.x.0/24 subnet for the chaos network");
}
