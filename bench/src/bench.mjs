// `pnpm bench [--quick] [run.mjs options]`: installs what is missing (scripts/bootstrap.mjs), builds the
// packages (the system benchmark runs node processes over the BUILT packages), runs the micro-benchmarks
// (vitest bench over packages/*/bench; skipped with --quick to stay under two minutes), then the system
// benchmark (bench/src/run.mjs), passing every argument through.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const args = process.argv.slice(2).filter((arg) => arg !== "--");
const quick = args.includes("--quick");

function run(command, commandArgs) {
  const result = spawnSync(command, commandArgs, { cwd: root, stdio: "inherit" });
  if (result.status !== 0) {
    console.error(`bench: '${command} ${commandArgs.join(" ")}' failed`);
    process.exit(result.status ?? 1);
  }
}

run(process.execPath, ["scripts/bootstrap.mjs"]);
if (!args.includes("--no-build")) run("corepack", ["pnpm", "run", "build"]);
if (!quick && !args.includes("--no-micro")) run("npx", ["--yes", "vitest", "bench", "--run"]);
run(process.execPath, [
  "bench/src/run.mjs",
  ...args.filter((arg) => arg !== "--no-build" && arg !== "--no-micro"),
]);
