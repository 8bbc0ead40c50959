// SIGTERM sent to the top process, under every way the README starts the
// service, gives the graceful shutdown and its exit code: what is in hand is
// written and deleted, the "stopped" line is logged, and nothing is left
// running. The container's command is covered by the image tree test.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../helpers/app.ts";
import { BIN, type Launcher, startRun } from "../helpers/cli.ts";
import { loginEvent, type TestStack, testStack } from "../helpers/stack.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

let stack: TestStack;
beforeAll(async () => {
  stack = await testStack("signals");
});
afterAll(async () => {
  await stack.close();
});

/** A Node older than 22.18 on PATH outside node_modules (the machine's own), if any. */
function systemNode(): string | null {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (!dir || dir.includes("node_modules")) continue;
    try {
      const path = `${dir}/node`;
      const version = execFileSync(path, ["--version"], { encoding: "utf8" }).trim();
      return version ? path : null;
    } catch {}
  }
  return null;
}

const launchers: Array<[string, () => Launcher]> = [
  // Bug: npm exited after ~1.6 s and left login-etl running, re-parented, /readyz still 200.
  ["npx login-etl run", () => ({ command: "npx", args: ["login-etl"], cwd: ROOT })],
  [
    "node bin/login-etl.js run, with the machine's own Node",
    () => ({ command: systemNode() ?? process.execPath, args: [BIN], cwd: ROOT }),
  ],
];

describe("SIGTERM to the top process", () => {
  it.each(launchers)(
    "%s: writes what is in hand, logs the stop, exits 0, leaves nothing running",
    async (_name, launcher) => {
      await stack.freshQueues();
      const before = Number(
        (
          await stack.query<{ n: string }>("SELECT count(*) AS n FROM user_logins").catch(() => [{ n: "0" }])
        )[0]?.n ?? 0,
      );
      const env = stack.env({ LOGIN_ETL_LOG_LEVEL: "info", LOGIN_ETL_WAIT_TIME_SECONDS: "20" });
      const service = await startRun(env, launcher());
      await stack.send(Array.from({ length: 30 }, () => loginEvent()));
      await eventually(
        async () => Number((await stack.query<{ n: string }>("SELECT count(*) AS n FROM user_logins"))[0]?.n),
        (n) => n === before + 30,
      );
      service.child.kill("SIGTERM");
      const res = await service.done;
      expect(res.code).toBe(0);
      expect(res.stderr).toContain('"msg":"shutting down: finishing what is in hand"');
      expect(res.stderr).toContain('"msg":"stopped"');
      // Nothing answers on the service's port any more: no orphan kept running.
      const answer = await fetch(`${service.base}/livez`).then(
        (r) => r.status,
        () => "gone",
      );
      expect(answer).toBe("gone");
    },
  );
});
