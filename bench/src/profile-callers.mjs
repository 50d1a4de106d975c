// Who calls a hot function: node bench/src/profile-callers.mjs FILE.cpuprofile FUNCTION [DEPTH]
// prints, for every sample whose leaf is FUNCTION, its call path (DEPTH frames up, default 4) by time.
import { readFileSync } from "node:fs";

const [file, wanted, depth_arg] = process.argv.slice(2);
if (file === undefined || wanted === undefined) {
  console.error("usage: node profile-callers.mjs FILE.cpuprofile FUNCTION [DEPTH]");
  process.exit(2);
}
const depth = Number(depth_arg ?? 4);
const profile = JSON.parse(readFileSync(file, "utf8"));
const by_id = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const name = (id) => {
  const frame = by_id.get(id)?.callFrame ?? {};
  const url = (frame.url ?? "").replace(/^.*\/(packages|node_modules)\//, "");
  return `${frame.functionName || "(anonymous)"}${url ? ` ${url}:${(frame.lineNumber ?? 0) + 1}` : ""}`;
};
const paths = new Map();
let total_us = 0;
profile.samples.forEach((id, index) => {
  if ((by_id.get(id)?.callFrame.functionName ?? "") !== wanted) return;
  const delta = profile.timeDeltas[index] ?? 0;
  total_us += delta;
  const path = [];
  for (let at = parent.get(id); at !== undefined && path.length < depth; at = parent.get(at))
    path.push(name(at));
  const key = path.join(" < ");
  paths.set(key, (paths.get(key) ?? 0) + delta);
});
console.log(`${wanted}: ${Math.round(total_us / 1000)} ms self`);
for (const [path, us] of [...paths.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
  console.log(`${String(Math.round(us / 1000)).padStart(7)} ms  < ${path}`);
}
