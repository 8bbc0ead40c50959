// Keyring hygiene through the real binary: keygen --out writes a private file,
// weak and non-canonical keys are refused, and a keyring file other users may
// read is warned about loudly.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli, STACK_TRACE } from "../helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "login-etl-keyring-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { PATH: process.env.PATH };

describe("keygen --out", () => {
  it("writes a new keyring file of mode 600 that mask accepts, and never overwrites one", async () => {
    const file = join(dir, "keyring.json");
    const made = await runCli(["keygen", "--kid", "k2", "--out", file], env);
    expect(made.code).toBe(0);
    expect(made.stdout).toBe("");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const keyring = JSON.parse(readFileSync(file, "utf8"));
    expect(keyring.primary).toBe("k2");
    expect(made.stderr).not.toContain(keyring.keys[0].key);

    const masked = await runCli(["mask", "--field", "ip", "10.0.0.1"], { ...env, PII_KEYRING_FILE: file });
    expect(masked.code).toBe(0);
    expect(masked.stdout).toMatch(/^h1\.k2\./);
    expect(masked.stderr).toBe("");

    const again = await runCli(["keygen", "--out", file], env);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("already exists");
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual(keyring);
  });
});

describe("keys that are not secrets", () => {
  const ring = (key: string) => JSON.stringify({ primary: "k1", keys: [{ kid: "k1", key }] });

  it.each([
    ["an all-zero key", ring(Buffer.alloc(32).toString("base64")), "is weak"],
    [
      "a key without its base64 padding",
      ring(Buffer.alloc(32, 7).fill(9, 3).toString("base64").replace(/=+$/, "")),
      "canonical base64",
    ],
  ])("refuses %s with exit 2, naming the setting", async (_name, keyring, problem) => {
    const res = await runCli(["mask", "--field", "ip", "10.0.0.1"], { ...env, PII_KEYRING: keyring });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("PII_KEYRING: keys.0.key");
    expect(res.stderr).toContain(problem);
    expect(res.stderr).not.toMatch(STACK_TRACE);
  });

  it("warns loudly about a keyring file every user may read, and still works", async () => {
    const file = join(dir, "open.json");
    const made = await runCli(["keygen"], env);
    writeFileSync(file, made.stdout, { mode: 0o644 });
    const res = await runCli(["mask", "--field", "ip", "10.0.0.1"], { ...env, PII_KEYRING_FILE: file });
    expect(res.code).toBe(0);
    expect(res.stderr).toContain(`login-etl: warning: PII_KEYRING_FILE: ${file} has mode 644`);
    expect(res.stderr).toContain("chmod 600");
  });
});
