// The image's HEALTHCHECK: exit 0 when the node's GET /ready answers 200, else 1.
// The URL is MEDLEDGER_HEALTHCHECK_URL, else built from the API port in the node's config file
// (MEDLEDGER_CONFIG, default /config/node.json), else http://127.0.0.1:8080/ready.
// Plain Node (no dependencies) so that it runs in the runtime image as it is.
import { readFileSync } from "node:fs";

function readyUrl() {
  if (process.env.MEDLEDGER_HEALTHCHECK_URL) return process.env.MEDLEDGER_HEALTHCHECK_URL;
  let port = 8080;
  try {
    const config = JSON.parse(readFileSync(process.env.MEDLEDGER_CONFIG ?? "/config/node.json", "utf8"));
    const api = config.api ?? {};
    const candidate = typeof api === "object" ? (api.port ?? config.apiPort) : config.apiPort;
    if (Number.isInteger(candidate) && candidate > 0) port = candidate;
    else if (typeof api === "string" || typeof api.url === "string" || typeof api.listen === "string") {
      const text = typeof api === "string" ? api : (api.url ?? api.listen);
      const parsed = new URL(text.includes("://") ? text : `http://${text}`);
      if (parsed.port) port = Number(parsed.port);
    }
  } catch {
    // No readable config: the default port.
  }
  return `http://127.0.0.1:${port}/ready`;
}

try {
  const answer = await fetch(readyUrl(), { signal: AbortSignal.timeout(2500) });
  process.exit(answer.status === 200 ? 0 : 1);
} catch {
  process.exit(1);
}
