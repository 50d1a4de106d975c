import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    conditions: ["medledger-source"],
  },
  ssr: {
    resolve: {
      conditions: ["medledger-source"],
    },
  },
  test: {
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts"],
    benchmark: {
      include: ["packages/*/bench/**/*.bench.ts"],
    },
    setupFiles: ["./vitest.setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
