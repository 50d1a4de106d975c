/**
 * The API server: builds the app, listens, and closes gracefully. Nothing else lives here.
 */
import type { ApiDeps } from "./app.js";
import { buildApi } from "./app.js";

/** Where to listen. */
export interface ApiServerOptions extends Omit<ApiDeps, "node"> {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
}

/** A listening API. */
export interface RunningApi {
  /** The base URL, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  /** Ends event streams, stops accepting, waits for requests in flight. Idempotent. */
  close(): Promise<void>;
}

/** Starts the API of `node` on `options.host`:`options.port`. */
export async function startApi(node: ApiDeps["node"], options: ApiServerOptions): Promise<RunningApi> {
  const { host, port, ...deps } = options;
  const app = buildApi({ ...deps, node });
  try {
    await app.listen({ host, port });
  } catch (error) {
    await app.close();
    throw error;
  }
  const address = app.server.address();
  const actualPort = typeof address === "object" && address !== null ? address.port : port;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  let closed: Promise<void> | null = null;
  return {
    url: `http://${shownHost}:${actualPort}`,
    close: () => {
      closed ??= app.close();
      return closed;
    },
  };
}
