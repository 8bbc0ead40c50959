import { defineConfig } from "vitest/config";

// `npm run test:ship`: the ways in for production, built and run as a user
// would: `npm pack` installed globally and run on Node 24 and 22, and the
// container image's file tree run as another user. They install packages from
// the npm registry (or its cache), so they are not part of `npm test`. One file
// at a time: both build dist/.
export default defineConfig({
  test: {
    include: ["test/ship/**/*.test.ts"],
    globalSetup: ["test/globalSetup.ts"],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
});
