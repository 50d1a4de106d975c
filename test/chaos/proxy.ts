// The delay proxy: a userspace TCP proxy (node:net) in the harness process, since this kernel has no
// netem. It opens one listener per node; every node dials its peers at their listeners (namespace mode:
// the node's alias on the bridge; process mode: a port on 127.0.0.1), and each connection is forwarded
// to the real node. Each direction of each connection is a queue: a chunk leaves `delay` ms after it
// arrived (base plus seeded jitter, never before the chunk ahead of it, so bytes stay in order). The
// delay is 0 (chunks pass straight through) until setDelays() says otherwise. A source that runs too far
// ahead of its queue is paused (back-pressure), so memory stays bounded.
import { connect, createServer, type Server, type Socket } from "node:net";
import { prng } from "./workload.js";

/** One listener: connections to it go to node `target`. */
export interface ProxyRoute {
  readonly target: number;
  readonly listenHost: string;
  /** 0: any free port. */
  readonly listenPort: number;
  readonly targetHost: string;
  readonly targetPort: number;
  /** The node a client address belongs to (-1: unknown, e.g. every client on 127.0.0.1). */
  readonly sourceOf?: (address: string) => number;
  /** The local address to connect to the target from, given the client's address. */
  readonly localAddressFor?: (address: string) => string | undefined;
}

/** The one-way delay of the link from node `from` (-1: unknown) to node `to`, or null for none. */
export type DelayPlan = (from: number, to: number) => { baseMs: number; jitterMs: number } | null;

const high_water_bytes = 4 * 1024 * 1024;
const low_water_bytes = 1024 * 1024;

export class DelayProxy {
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly random: () => number;
  private plan: DelayPlan | null = null;
  /** What went through: connections, bytes, and chunks that waited. */
  readonly stats = { connections: 0, bytes: 0, delayedChunks: 0, maxQueuedBytes: 0 };

  constructor(seed: number) {
    this.random = prng(seed ^ 0xde1a);
  }

  /** Opens the listeners; resolves with the port of each, in order. */
  async listen(routes: readonly ProxyRoute[]): Promise<number[]> {
    const ports: number[] = [];
    for (const route of routes) {
      const server = createServer((client) => this.accept(route, client));
      server.on("error", () => undefined);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen({ host: route.listenHost, port: route.listenPort }, () => {
          server.off("error", reject);
          resolve();
        });
      });
      this.servers.push(server);
      const address = server.address();
      ports.push(typeof address === "object" && address !== null ? address.port : route.listenPort);
    }
    return ports;
  }

  /** Sets the delay of every link (null: no delay). Takes effect for chunks that arrive from now on. */
  setDelays(plan: DelayPlan | null): void {
    this.plan = plan;
  }

  /** Closes the listeners and every connection. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await Promise.all(
      this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
    );
    this.servers.length = 0;
  }

  private delayOf(from: number, to: number): number {
    const link = this.plan?.(from, to) ?? null;
    if (link === null || link.baseMs <= 0) return 0;
    return Math.max(0, link.baseMs + (this.random() * 2 - 1) * link.jitterMs);
  }

  private accept(route: ProxyRoute, client: Socket): void {
    const address = client.remoteAddress ?? "";
    const source = route.sourceOf?.(address) ?? -1;
    const localAddress = route.localAddressFor?.(address);
    const upstream = connect({
      host: route.targetHost,
      port: route.targetPort,
      ...(localAddress === undefined ? {} : { localAddress }),
    });
    this.stats.connections += 1;
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.setNoDelay(true);
      socket.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
      socket.on("close", () => {
        this.sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    this.pipe(client, upstream, source, route.target);
    this.pipe(upstream, client, route.target, source);
  }

  /** Forwards `from` to `to`, each chunk after the link's delay, in order. */
  private pipe(from: Socket, to: Socket, source: number, target: number): void {
    const queue: Array<{ at: number; chunk: Buffer }> = [];
    let head = 0;
    let queued = 0;
    let last = 0;
    let timer: NodeJS.Timeout | null = null;
    let ended = false;
    const finish = (): void => {
      if (ended && head === queue.length && !to.destroyed) to.end();
    };
    const flush = (): void => {
      timer = null;
      const now = Date.now();
      while (head < queue.length && (queue[head] as { at: number }).at <= now) {
        const { chunk } = queue[head] as { chunk: Buffer };
        queue[head] = undefined as unknown as { at: number; chunk: Buffer };
        head += 1;
        queued -= chunk.length;
        if (!to.destroyed) to.write(chunk);
      }
      if (head === queue.length) {
        queue.length = 0;
        head = 0;
      }
      if (queued < low_water_bytes && from.isPaused() && to.writableLength < high_water_bytes) from.resume();
      schedule();
      finish();
    };
    const schedule = (): void => {
      if (timer !== null || head === queue.length) return;
      timer = setTimeout(flush, Math.max(0, (queue[head] as { at: number }).at - Date.now()));
    };
    to.on("drain", () => {
      if (queued < low_water_bytes && from.isPaused()) from.resume();
    });
    from.on("data", (chunk: Buffer) => {
      this.stats.bytes += chunk.length;
      const delay = this.delayOf(source, target);
      if (delay === 0 && head === queue.length) {
        if (!to.write(chunk)) from.pause();
        return;
      }
      last = Math.max(Date.now() + delay, last);
      queue.push({ at: last, chunk });
      queued += chunk.length;
      this.stats.delayedChunks += 1;
      this.stats.maxQueuedBytes = Math.max(this.stats.maxQueuedBytes, queued);
      if (queued > high_water_bytes) from.pause();
      schedule();
    });
    from.on("end", () => {
      ended = true;
      finish();
    });
    from.on("close", () => {
      if (timer !== null) clearTimeout(timer);
    });
  }
}
