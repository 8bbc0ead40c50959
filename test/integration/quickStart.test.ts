// The README's quick start, run as written: `npm start` brings up the embedded
// stack, seeds it, drains it through the real pipeline and tears it down.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { captured } from "../helpers/cli.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

describe("npm start (the quick start)", () => {
  it("loads the seeded events, rejects the malformed ones to the dead-letter queue, and cleans up", async () => {
    // Nothing of the test run's own configuration may leak in: the demo needs none.
    const env = Object.fromEntries(
      Object.entries(process.env).filter(
        ([k]) => !/^(DATABASE_URL|SQS_|PII_|LOGIN_ETL_|AWS_|PG)/.test(k) && !k.startsWith("npm_"),
      ),
    );
    const res = await captured(
      spawn("npm", ["start"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] }),
    );
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/seeded 104 messages .*\(100 events, 1 body sent twice, 3 malformed\)/);
    expect(res.stdout).toMatch(/^inserted\s+101$/m);
    expect(res.stdout).toMatch(/^rejected\s+3 \(/m);
    expect(res.stdout).toContain("dead-letter queue: 3 messages");
    expect(res.stdout).toContain("the embedded stack is stopped and its data deleted");
    // The demo shows pseudonyms, never a raw address.
    expect(res.stdout).not.toMatch(/\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b/);
  }, 120_000);
});
