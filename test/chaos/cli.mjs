// `pnpm test:chaos --duration 10m --seed S [--nodes N] [--rate R] [--nemeses a,b] [--process]`: one
// long chaos run. Plain JavaScript (Node 20 cannot run TypeScript): it loads test/chaos/main.ts through
// Vite's module runner (Vite ships with vitest), like packages/node/test/fixtures/storage-crash-child.mjs.
// The last line it prints is `chaos: N acked, L lost, D divergent`; it exits 1 when the check failed.
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = () => {
    let resolve;
    let reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

const root = fileURLToPath(new URL("../../", import.meta.url));
const vitestRequire = createRequire(createRequire(`${root}/package.json`).resolve("vitest/package.json"));
const vite = await import(pathToFileURL(vitestRequire.resolve("vite")).href);
const server = await vite.createServer({
  configFile: false,
  root,
  logLevel: "error",
  server: { middlewareMode: true, hmr: false, ws: false },
  resolve: { conditions: ["medledger-source"] },
  ssr: { resolve: { conditions: ["medledger-source"] } },
  optimizeDeps: { noDiscovery: true, include: [] },
});
const runner = vite.createServerModuleRunner(server.environments.ssr, { hmr: false });
let code = 1;
try {
  const main = await runner.import(fileURLToPath(new URL("./main.ts", import.meta.url)));
  code = await main.main(process.argv.slice(2));
} catch (error) {
  console.error(error?.stack ?? String(error));
} finally {
  await runner.close().catch(() => undefined);
  await server.close().catch(() => undefined);
}
process.exit(code);
