// The PII vault (§3b) end to end through the real binary: drain seals one
// entry per distinct pseudonym, unmask opens them (audited first), forget
// erases, and each failure is a clear exit 1 with nothing printed.
import { mkdtempSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { lastJsonLine, runCli, STACK_TRACE } from "../helpers/cli.ts";
import { loginEvent, type TestStack, testStack } from "../helpers/stack.ts";
import { type RecoveryFiles, recoveryKeyFiles, runCliWithInput } from "../helpers/vault.ts";

let stack: TestStack;
let recovery: RecoveryFiles;

beforeAll(async () => {
  stack = await testStack("vault");
  recovery = recoveryKeyFiles("rk1");
});
afterAll(async () => {
  await stack.close();
});
beforeEach(async () => {
  await stack.freshQueues();
  await stack.query(
    "DROP TABLE IF EXISTS user_logins, login_etl_schema_migrations, login_etl_vault_entries, login_etl_vault_data_keys, login_etl_vault_audit",
  );
});

const vaultEnv = (extra = {}) => stack.env({ PII_VAULT_PUBLIC_KEY: recovery.publicJson, ...extra });
const officerEnv = (extra = {}) => stack.env({ PII_VAULT_PRIVATE_KEY_FILE: recovery.privateFile, ...extra });

async function drain(env = vaultEnv()) {
  const res = await runCli(["drain", "--json"], env);
  expect(res.stderr).not.toMatch(STACK_TRACE);
  expect(res.code).toBe(0);
  return lastJsonLine(res.stdout);
}

async function pseudonymOf(field: "ip" | "device_id", value: string): Promise<string> {
  const res = await runCli(["mask", "--field", field, value], stack.env());
  return res.stdout.trim();
}

const count = async (sql: string, params?: unknown[]) =>
  (await stack.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, params))[0]?.n;

describe("vault-keygen", () => {
  it("writes the private key with mode 0600, prints the public key, and never overwrites", async () => {
    const out = path.join(mkdtempSync(path.join(os.tmpdir(), "keygen-")), "rk.json");
    const res = await runCli(["vault-keygen", "--out", out, "--kid", "rk-2026"], {});
    expect(res.code).toBe(0);
    const pub = JSON.parse(res.stdout);
    expect(pub.kid).toBe("rk-2026");
    expect(Buffer.from(pub.public_key, "base64")).toHaveLength(32);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const again = await runCli(["vault-keygen", "--out", out], {});
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists.*\[VAULT_KEY_EXISTS\]/);
  });
});

describe("loader configuration", () => {
  it("exits 2 when both PII_VAULT_PUBLIC_KEY and PII_VAULT_PUBLIC_KEY_FILE are set", async () => {
    const res = await runCli(["drain"], vaultEnv({ PII_VAULT_PUBLIC_KEY_FILE: recovery.privateFile }));
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/PII_VAULT_PUBLIC_KEY_FILE and PII_VAULT_PUBLIC_KEY: both are set/);
  });

  it("exits 2 with a clear message when given the private key, without printing it", async () => {
    const res = await runCli(["drain"], stack.env({ PII_VAULT_PUBLIC_KEY_FILE: recovery.privateFile }));
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/PII_VAULT_PUBLIC_KEY_FILE: holds a private key/);
    const secret = JSON.parse(
      (await import("node:fs")).readFileSync(recovery.privateFile, "utf8"),
    ).private_key;
    expect(res.stderr).not.toContain(secret);
    const env = await runCli(["run"], vaultEnv({ PII_VAULT_PRIVATE_KEY_FILE: recovery.privateFile }));
    expect(env.code).toBe(2);
    expect(env.stderr).toMatch(/PII_VAULT_PRIVATE_KEY_FILE: set in the loader's environment/);
  });

  it("check reports the vault on with a well-formed key, and off without one", async () => {
    const on = await runCli(["check"], vaultEnv());
    expect(on.stdout).toMatch(/ok {3}PII vault on: recovery public key "rk1" well formed/);
    expect(on.stdout).toMatch(
      /ok {3}vault sealing: AES-256-GCM batched, self-check against node:crypto passed/,
    );
    const off = await runCli(["check"], stack.env());
    expect(off.stdout).toMatch(/PII vault off/);
  });
});

describe("drain with the vault on", () => {
  it("writes one entry per distinct pseudonym, sealed, with one data key", async () => {
    const ips = ["10.0.0.1", " ::ffff:10.0.0.1 ", "2001:db8::7", "10.0.0.2"];
    const devices = ["dev-a", "dev-b", "dev-a "];
    await stack.send(
      Array.from({ length: 24 }, (_, i) => loginEvent({ ip: ips[i % 4], device_id: devices[i % 3] })),
    );
    expect(await drain()).toMatchObject({ inserted: 24 });
    expect(await count("login_etl_vault_entries WHERE field = 'ip'")).toBe(
      await count("(SELECT DISTINCT masked_ip FROM user_logins) d"),
    );
    expect(await count("login_etl_vault_entries WHERE field = 'ip'")).toBe(3);
    expect(await count("login_etl_vault_entries WHERE field = 'device_id'")).toBe(2);
    expect(await count("login_etl_vault_data_keys")).toBe(1);
    // Every row's pseudonyms have their entry.
    expect(
      await count(
        "user_logins u WHERE NOT EXISTS (SELECT 1 FROM login_etl_vault_entries e WHERE e.field = 'ip' AND e.pseudonym = u.masked_ip)",
      ),
    ).toBe(0);

    // Again, with the same values: nothing new is vaulted.
    await stack.send([loginEvent({ ip: "10.0.0.1", device_id: "dev-b" })]);
    await drain();
    expect(await count("login_etl_vault_entries")).toBe(5);
  });
});

describe("unmask", () => {
  beforeEach(async () => {
    await stack.send([
      loginEvent({ ip: "::ffff:199.172.111.135", device_id: " 593-47-5928 " }),
      loginEvent({ ip: "2001:0db8:0000:0000:0001:0000:0000:0001", device_id: "dev-x" }),
    ]);
    await drain();
  });

  it("prints the values (dotted quad, RFC 5952, device id) and audits each request first", async () => {
    const ip4 = await pseudonymOf("ip", "199.172.111.135");
    const ip6 = await pseudonymOf("ip", "2001:db8::1:0:0:1");
    const dev = await pseudonymOf("device_id", "593-47-5928");
    const one = await runCli(["unmask", "--field", "ip", "--reason", "ticket 42", ip4], officerEnv());
    expect(one.stderr).toBe("");
    expect(one.code).toBe(0);
    expect(one.stdout).toBe("199.172.111.135\n");
    const json = await runCli(
      ["unmask", "--field", "ip", "--reason", "ticket 42", "--json", ip4, ip6],
      officerEnv(),
    );
    expect(JSON.parse(json.stdout)).toEqual([
      { field: "ip", pseudonym: ip4, value: "199.172.111.135" },
      { field: "ip", pseudonym: ip6, value: "2001:db8::1:0:0:1" },
    ]);
    const bulk = await runCliWithInput(
      ["unmask", "--field", "device_id", "--reason", "bulk request 7", "-"],
      officerEnv(),
      `${dev}\n`,
    );
    expect(bulk.stdout).toBe("593-47-5928\n");
    const audit = await stack.query(
      "SELECT db_user, os_user, action, field, pseudonym, reason, outcome, at FROM login_etl_vault_audit ORDER BY id",
    );
    expect(audit).toHaveLength(4);
    expect(audit[0]).toMatchObject({
      db_user: expect.any(String),
      os_user: os.userInfo().username,
      action: "unmask",
      field: "ip",
      pseudonym: ip4,
      reason: "ticket 42",
      outcome: "disclosed",
    });
    expect(audit[3]).toMatchObject({ field: "device_id", pseudonym: dev, reason: "bulk request 7" });
  });

  it("refuses a wrong private key, a tampered value, a moved value and an unknown pseudonym: exit 1, nothing printed", async () => {
    const ip4 = await pseudonymOf("ip", "199.172.111.135");
    const ip6 = await pseudonymOf("ip", "2001:db8::1:0:0:1");
    const unmask = (p: string, env = officerEnv()) =>
      runCli(["unmask", "--field", "ip", "--reason", "r", p], env);

    const other = recoveryKeyFiles("rk1");
    const wrong = await unmask(ip4, stack.env({ PII_VAULT_PRIVATE_KEY_FILE: other.privateFile }));
    expect([wrong.code, wrong.stdout]).toEqual([1, ""]);
    expect(wrong.stderr).toMatch(/not the private half of recovery key "rk1".*\[VAULT_WRONG_KEY\]/s);

    const unknown = await unmask("h1.k1.nosuchpseudonymnosuchpseudonymnosuchpseudo");
    expect([unknown.code, unknown.stdout]).toEqual([1, ""]);
    expect(unknown.stderr).toMatch(/no vault entry.*\[VAULT_NOT_FOUND\]/s);

    // Moved: the sealed value of ip6 copied onto ip4's entry.
    await stack.query(
      `UPDATE login_etl_vault_entries t SET nonce = s.nonce, sealed = s.sealed, data_key_id = s.data_key_id
         FROM login_etl_vault_entries s WHERE t.pseudonym = $1 AND s.pseudonym = $2`,
      [ip4, ip6],
    );
    const moved = await unmask(ip4);
    expect([moved.code, moved.stdout]).toEqual([1, ""]);
    expect(moved.stderr).toMatch(/altered or moved.*\[VAULT_TAMPERED\]/s);

    await stack.query(
      "UPDATE login_etl_vault_entries SET sealed = set_byte(sealed, 0, get_byte(sealed, 0) # 1) WHERE pseudonym = $1",
      [ip6],
    );
    const tampered = await unmask(ip6);
    expect([tampered.code, tampered.stdout]).toEqual([1, ""]);
    expect(tampered.stderr).toMatch(/\[VAULT_TAMPERED\]/);

    const outcomes = await stack.query<{ outcome: string }>(
      "SELECT outcome FROM login_etl_vault_audit ORDER BY id",
    );
    expect(outcomes.map((o) => o.outcome)).toEqual(["wrong_key", "not_found", "tampered", "tampered"]);
  });

  it("prints nothing when the audit row cannot be written", async () => {
    const ip4 = await pseudonymOf("ip", "199.172.111.135");
    await stack.query("ALTER TABLE login_etl_vault_audit RENAME TO audit_away");
    try {
      const res = await runCli(["unmask", "--field", "ip", "--reason", "r", ip4], officerEnv());
      expect([res.code, res.stdout]).toEqual([1, ""]);
      expect(res.stderr).toMatch(/audit row could not be written.*\[VAULT_AUDIT_FAILED\]/);
    } finally {
      await stack.query("ALTER TABLE audit_away RENAME TO login_etl_vault_audit");
    }
  });

  it("exits 2 naming the setting without a private key, and for a missing reason", async () => {
    const ip4 = await pseudonymOf("ip", "199.172.111.135");
    const noKey = await runCli(["unmask", "--field", "ip", "--reason", "r", ip4], stack.env());
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/PII_VAULT_PRIVATE_KEY_FILE \(--private-key-file\): required/);
    const noReason = await runCli(["unmask", "--field", "ip", ip4], officerEnv());
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toMatch(/--reason/);
  });
});

describe("forget", () => {
  it("deletes the entry of a value, audits it, says how many rows still carry it, and unmask then fails", async () => {
    await stack.send([loginEvent({ device_id: "dev-gone" }), loginEvent({ device_id: "dev-gone" })]);
    await drain();
    const dev = await pseudonymOf("device_id", "dev-gone");
    const res = await runCli(
      ["forget", "--field", "device_id", "--reason", "erasure request 9", "dev-gone"],
      stack.env(),
    );
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/forgot 1 vault entry of device_id/);
    expect(res.stdout).toMatch(/^2 row\(s\) in user_logins still carry the pseudonym/m);
    expect(res.stdout).not.toContain("dev-gone");
    expect(await count("login_etl_vault_entries WHERE pseudonym = $1", [dev])).toBe(0);
    const audit = await stack.query("SELECT action, pseudonym, reason, outcome FROM login_etl_vault_audit");
    expect(audit).toEqual([
      { action: "forget", pseudonym: dev, reason: "erasure request 9", outcome: "deleted" },
    ]);

    const unmask = await runCli(["unmask", "--field", "device_id", "--reason", "r", dev], officerEnv());
    expect([unmask.code, unmask.stdout]).toEqual([1, ""]);

    const byPseudonym = await runCli(
      ["forget", "--field", "device_id", "--pseudonym", dev, "--json"],
      stack.env(),
    );
    expect(lastJsonLine(byPseudonym.stdout)).toMatchObject({ deleted: 0, rows_still_carrying: 2 });

    // The limit: the same value arriving again is sealed again.
    await stack.send([loginEvent({ device_id: "dev-gone" })]);
    await drain();
    expect(await count("login_etl_vault_entries WHERE pseudonym = $1", [dev])).toBe(1);
  });
});
