// A small JSON-over-HTTP requester for the chaos workload: node:http with one keep-alive agent per
// base URL, an optional local address (the bridge's, in namespace mode), and a hard deadline.
import { Agent, request } from "node:http";

export interface HttpAnswer {
  status: number;
  body: Record<string, unknown>;
}

const agents = new Map<string, Agent>();

function agentOf(base: string): Agent {
  let agent = agents.get(base);
  if (agent === undefined) {
    agent = new Agent({ keepAlive: true, maxSockets: 64 });
    agents.set(base, agent);
  }
  return agent;
}

/** Closes every keep-alive socket. */
export function closeAgents(): void {
  for (const agent of agents.values()) agent.destroy();
  agents.clear();
}

/** One request; rejects on a network error or when `timeoutMs` passes. */
export function httpJson(options: {
  base: string;
  method: "GET" | "POST";
  path: string;
  body?: unknown;
  timeoutMs: number;
  localAddress?: string;
}): Promise<HttpAnswer> {
  const url = new URL(options.path, options.base);
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: `${url.pathname}${url.search}`,
        method: options.method,
        agent: agentOf(options.base),
        ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
        headers:
          payload === undefined
            ? {}
            : { "content-type": "application/json", "content-length": String(payload.length) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          clearTimeout(timer);
          let body: Record<string, unknown> = {};
          try {
            body = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>;
          } catch {
            body = {};
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
        res.on("error", (error) => {
          clearTimeout(timer);
          reject(error);
        });
      },
    );
    const timer = setTimeout(() => req.destroy(new Error("TIMEOUT")), options.timeoutMs);
    req.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.end(payload);
  });
}
