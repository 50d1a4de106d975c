// Reads a V8 .cpuprofile (node --cpu-prof) and ranks functions by self time.
const repo_marker = "/packages/";

function location(frame) {
  const url = frame.url ?? "";
  if (url === "") return "";
  const at = url.indexOf(repo_marker);
  const node_modules = url.lastIndexOf("/node_modules/");
  const short =
    node_modules >= 0
      ? url.slice(node_modules + "/node_modules/".length)
      : at >= 0
        ? url.slice(at + 1)
        : url.replace(/^file:\/\//, "");
  return `${short}:${(frame.lineNumber ?? 0) + 1}`;
}

/** Total, idle/GC/program shares, and the top `count` functions by self time (excluding idle). */
export function analyzeProfile(profile, count = 10) {
  const by_id = new Map(profile.nodes.map((node) => [node.id, node]));
  const self_us = new Map();
  let total_us = 0;
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    total_us += delta;
    self_us.set(id, (self_us.get(id) ?? 0) + delta);
  });
  const by_function = new Map();
  for (const [id, us] of self_us) {
    const frame = by_id.get(id)?.callFrame ?? {};
    const name = frame.functionName || "(anonymous)";
    const key = `${name} ${location(frame)}`;
    const entry = by_function.get(key) ?? { function: name, location: location(frame), self_ms: 0 };
    entry.self_ms += us / 1000;
    by_function.set(key, entry);
  }
  // Inclusive time of our own code (packages/*): each function counted once per sample in which it is on the stack.
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const inclusive = new Map();
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const frame = by_id.get(at)?.callFrame ?? {};
      if (!(frame.url ?? "").includes(repo_marker)) continue;
      const key = `${frame.functionName || "(anonymous)"} ${location(frame)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + delta);
    }
  });
  const ranked = [...by_function.values()].sort((a, b) => b.self_ms - a.self_ms);
  const idle_ms = ranked.filter((e) => e.function === "(idle)").reduce((s, e) => s + e.self_ms, 0);
  const total_ms = total_us / 1000;
  const busy_ms = total_ms - idle_ms;
  const pct = (ms) => Math.round((1000 * ms) / Math.max(busy_ms, 1)) / 10;
  return {
    total_ms: Math.round(total_ms),
    busy_ms: Math.round(busy_ms),
    idle_pct: Math.round((1000 * idle_ms) / Math.max(total_ms, 1)) / 10,
    top: ranked
      .filter((e) => e.function !== "(idle)")
      .slice(0, count)
      .map((e) => ({ ...e, self_ms: Math.round(e.self_ms), self_pct_of_busy: pct(e.self_ms) })),
    top_inclusive_own_code: [...inclusive.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([key, us]) => ({ function: key, total_ms: Math.round(us / 1000), pct_of_busy: pct(us / 1000) })),
  };
}
