// Minimal keep-alive HTTP for the load generators and the driver (node:http: cheaper than fetch here).
import http from "node:http";

export function agentOf(sockets_max) {
  return new http.Agent({ keepAlive: true, maxSockets: sockets_max });
}

/** One request; resolves {status, body} (body parsed as JSON when it is JSON) or {status: 0, error}. */
export function request(
  agent,
  url,
  { method = "GET", body = null, headers = {}, timeout_ms = 60_000, signal } = {},
) {
  return new Promise((resolve) => {
    const payload = body === null ? null : Buffer.from(JSON.stringify(body));
    const req = http.request(
      url,
      {
        method,
        agent,
        headers: {
          ...headers,
          ...(payload === null
            ? {}
            : { "content-type": "application/json", "content-length": payload.length }),
        },
        timeout: timeout_ms,
        ...(signal === undefined ? {} : { signal }),
      },
      (res) => {
        const chunks = [];
        res.on("data", (chunk) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString();
          let parsed = text;
          try {
            parsed = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on("error", (error) => resolve({ status: 0, error: String(error) }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (error) => resolve({ status: 0, error: String(error) }));
    if (payload !== null) req.write(payload);
    req.end();
  });
}

/** Opens GET /events on `base`; calls onBlock({height, txCount, time}, arrival_ms) per block event. */
export function blockStream(base, onBlock) {
  const req = http.get(`${base}/events`, { headers: { accept: "text/event-stream" } }, (res) => {
    let buffer = "";
    res.setEncoding("utf8");
    res.on("data", (chunk) => {
      const arrival_ms = performance.timeOrigin + performance.now();
      buffer += chunk;
      let end = buffer.indexOf("\n\n");
      while (end >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf("\n\n");
        const data = event.split("\n").find((line) => line.startsWith("data:"));
        if (event.includes("event: block") && data !== undefined) {
          try {
            onBlock(JSON.parse(data.slice(5)), arrival_ms);
          } catch {}
        }
      }
    });
  });
  req.on("error", () => undefined);
  return { close: () => req.destroy() };
}

export function now_ms() {
  return performance.timeOrigin + performance.now();
}

/** Percentiles (nearest rank) of a numeric array; null fields when empty. */
export function percentiles(values) {
  if (values.length === 0) return { count: 0, p50: null, p90: null, p99: null, max: null, mean: null };
  const sorted = Float64Array.from(values).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  const round = (v) => Math.round(v * 100) / 100;
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    p50: round(at(0.5)),
    p90: round(at(0.9)),
    p99: round(at(0.99)),
    max: round(sorted[sorted.length - 1]),
    mean: round(sum / sorted.length),
  };
}
