import { defineConfig } from "vitest/config";

// `npm test`: unit tests (pure code) and integration tests (a real embedded
// PostgreSQL and a real SQS emulator, started once in test/globalSetup.ts).
// The fault campaigns live in test/chaos and run with `npm run test:chaos`.
export default defineConfig({
  test: {
    include: ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts"],
    globalSetup: ["test/globalSetup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: true,
    maxWorkers: 2,
  },
});
