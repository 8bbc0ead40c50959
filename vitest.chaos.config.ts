import { defineConfig } from "vitest/config";

// `npm run test:chaos`: the fault campaigns of test/chaos (SIGKILL, PostgreSQL
// and SQS outages, SIGTERM under load). Each file starts its own embedded
// PostgreSQL and SQS emulator, because it stops and restarts them. One file at
// a time: the campaigns are CPU-heavy and must not fight for the cores.
export default defineConfig({
  test: {
    include: ["test/chaos/**/*.test.ts"],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
});
