// Installs the workspace's dependencies with the pinned pnpm (through corepack) when they are
// missing or older than the lockfile. Needs only Node and npm on the machine.
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const lockfile = join(root, "pnpm-lock.yaml");
const marker = join(root, "node_modules", ".modules.yaml");

const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`medledger needs Node >= 20.19 (this is ${process.versions.node})`);
  process.exit(1);
}

const upToDate = existsSync(marker) && statSync(marker).mtimeMs >= statSync(lockfile).mtimeMs;
if (!upToDate) {
  const env = { ...process.env, COREPACK_ENABLE_DOWNLOAD_PROMPT: "0", COREPACK_INTEGRITY_KEYS: "0" };
  const result = spawnSync("corepack", ["pnpm", "install", "--frozen-lockfile"], {
    cwd: root,
    env,
    stdio: "inherit",
  });
  if (result.status !== 0) {
    console.error("bootstrap: 'corepack pnpm install --frozen-lockfile' failed");
    process.exit(result.status ?? 1);
  }
}
