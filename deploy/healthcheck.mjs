// The image's HEALTHCHECK: exit 0 when the node's GET /ready answers 200, else 1.
// The URL is MEDLEDGER_HEALTHCHECK_URL, else http://127.0.0.1:<port>/ready with the port from
// MEDLEDGER_API_PORT, else from the node's config file (MEDLEDGER_CONFIG, /config/node.json or
// /medledger/node/config.json: its api.port, default 8080), else 8080.
// Plain Node (no dependencies) so that it runs in the runtime image as it is.
import { readFileSync } from "node:fs";

function readyUrl() {
  if (process.env.MEDLEDGER_HEALTHCHECK_URL) return process.env.MEDLEDGER_HEALTHCHECK_URL;
  const fromEnv = Number(process.env.MEDLEDGER_API_PORT);
  if (Number.isInteger(fromEnv) && fromEnv > 0) return `http://127.0.0.1:${fromEnv}/ready`;
  return `http://127.0.0.1:${portFromConfig()}/ready`;
}

function portFromConfig() {
  const paths = [process.env.MEDLEDGER_CONFIG, "/config/node.json", "/medledger/node/config.json"];
  for (const path of paths.filter(Boolean)) {
    const port = apiPort(path);
    if (port !== null) return port;
  }
  return 8080;
}

/** The config file's api.port (default 8080), or null when the file cannot be read. */
function apiPort(path) {
  try {
    const port = JSON.parse(readFileSync(path, "utf8"))?.api?.port;
    return Number.isInteger(port) && port > 0 ? port : 8080;
  } catch {
    return null;
  }
}

try {
  const answer = await fetch(readyUrl(), { signal: AbortSignal.timeout(2500) });
  process.exit(answer.status === 200 ? 0 : 1);
} catch {
  process.exit(1);
}
