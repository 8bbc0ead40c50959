// Separation of duties (§3b) with three real PostgreSQL roles and the grants
// that `login-etl vault-grants` prints: the loader seals but cannot read the
// vault, the analyst sees only user_logins, the privacy officer reads the
// vault and appends to the audit trail without being able to rewrite it.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.ts";
import { loginEvent, type TestStack, testStack } from "../helpers/stack.ts";
import { type RecoveryFiles, recoveryKeyFiles } from "../helpers/vault.ts";

let stack: TestStack;
let recovery: RecoveryFiles;
const suffix = randomBytes(3).toString("hex");
const ROLES = {
  loader: `etl_loader_${suffix}`,
  analyst: `etl_analyst_${suffix}`,
  officer: `etl_officer_${suffix}`,
};
const PASSWORD = randomBytes(12).toString("hex");

function urlFor(role: string): string {
  const url = new URL(stack.databaseUrl);
  url.username = role;
  url.password = PASSWORD;
  return url.toString();
}

async function as<T>(role: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: urlFor(role), options: `-c search_path=${stack.schema}` });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The SQLSTATE of `sql` run as `role`, or "ok". */
const attempt = (role: string, sql: string) =>
  as(role, (c) =>
    c.query(sql).then(
      () => "ok",
      (err: { code?: string }) => err.code ?? "error",
    ),
  );

beforeAll(async () => {
  stack = await testStack("vroles");
  recovery = recoveryKeyFiles("rk1");
  await stack.freshQueues();
  for (const role of Object.values(ROLES))
    await stack.query(`CREATE ROLE ${role} LOGIN PASSWORD '${PASSWORD}'`);
  expect((await runCli(["migrate"], stack.env())).code).toBe(0);
  const grants = await runCli(
    [
      "vault-grants",
      "--loader",
      ROLES.loader,
      "--analyst",
      ROLES.analyst,
      "--officer",
      ROLES.officer,
      "--db-schema",
      stack.schema,
    ],
    {},
  );
  expect(grants.code, grants.stderr).toBe(0);
  await stack.query(grants.stdout);
});
afterAll(async () => {
  await stack.query(`DROP SCHEMA ${stack.schema} CASCADE`).catch(() => {});
  for (const role of Object.values(ROLES)) {
    await stack.query(`DROP OWNED BY ${role}`).catch(() => {});
    await stack.query(`DROP ROLE IF EXISTS ${role}`).catch(() => {});
  }
  await stack.close();
});

describe("database roles", () => {
  it("the loader drains with the vault on, and cannot read a sealed value or a data key", async () => {
    await stack.send([loginEvent({ ip: "203.0.113.9", device_id: "roles-dev" }), loginEvent()]);
    const res = await runCli(
      ["drain", "--json"],
      stack.env({ DATABASE_URL: urlFor(ROLES.loader), PII_VAULT_PUBLIC_KEY: recovery.publicJson }),
    );
    expect(res.code, res.stderr).toBe(0);
    expect((await stack.query("SELECT 1 FROM user_logins")).length).toBe(2);
    expect((await stack.query("SELECT 1 FROM login_etl_vault_entries")).length).toBe(4);
    expect(await attempt(ROLES.loader, "SELECT sealed FROM login_etl_vault_entries")).toBe("42501");
    expect(await attempt(ROLES.loader, "SELECT wrapped_key FROM login_etl_vault_data_keys")).toBe("42501");
    expect(await attempt(ROLES.loader, "SELECT * FROM login_etl_vault_audit")).toBe("42501");
    expect(await attempt(ROLES.loader, "DELETE FROM login_etl_vault_entries")).toBe("42501");
  });

  it("the analyst reads user_logins and nothing of the vault", async () => {
    expect(await attempt(ROLES.analyst, "SELECT masked_ip FROM user_logins")).toBe("ok");
    for (const table of ["login_etl_vault_entries", "login_etl_vault_data_keys", "login_etl_vault_audit"]) {
      expect(await attempt(ROLES.analyst, `SELECT * FROM ${table}`), table).toBe("42501");
    }
    expect(await attempt(ROLES.analyst, "INSERT INTO user_logins (user_id) VALUES ('x')")).toBe("42501");
  });

  it("the privacy officer unmasks (audited as itself) and cannot rewrite the audit trail", async () => {
    const pseudonym = (await runCli(["mask", "--field", "ip", "203.0.113.9"], stack.env())).stdout.trim();
    const res = await runCli(
      ["unmask", "--field", "ip", "--reason", "roles test", pseudonym],
      stack.env({ DATABASE_URL: urlFor(ROLES.officer), PII_VAULT_PRIVATE_KEY_FILE: recovery.privateFile }),
    );
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toBe("203.0.113.9\n");
    const audit = await stack.query("SELECT db_user, outcome FROM login_etl_vault_audit");
    expect(audit).toEqual([{ db_user: ROLES.officer, outcome: "disclosed" }]);
    expect(await attempt(ROLES.officer, "UPDATE login_etl_vault_audit SET reason = 'x'")).toBe("42501");
    expect(await attempt(ROLES.officer, "DELETE FROM login_etl_vault_audit")).toBe("42501");
  });
});
