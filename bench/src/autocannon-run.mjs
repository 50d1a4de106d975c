// The API read path under autocannon, in its own process (so it does not share the driver's event loop).
// Usage: node autocannon-run.mjs '<json {url, connections, duration_s}>'; prints one JSON line.
import autocannon from "autocannon";

const config = JSON.parse(process.argv[2] ?? "{}");
const result = await autocannon({
  url: config.url,
  connections: config.connections ?? 10,
  duration: config.duration_s ?? 10,
  pipelining: 1,
});
process.stdout.write(
  `${JSON.stringify({
    connections: result.connections,
    duration_s: result.duration,
    requests_total: result.requests.total,
    req_per_s: result.requests.average,
    latency_ms: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
      mean: result.latency.average,
    },
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  })}\n`,
);
