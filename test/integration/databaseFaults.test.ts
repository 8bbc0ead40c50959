// PostgreSQL refusing for real: two real roles (an owner that migrates, a
// runtime role with only USAGE and SELECT/INSERT), a revoked grant, a
// DEFERRABLE unique constraint, a search_path in the URL, and a table lock that
// holds a write past the shutdown deadline.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../helpers/app.ts";
import { lastJsonLine, runCli, STACK_TRACE, startCli, startRun } from "../helpers/cli.ts";
import { loginEvent, type TestStack, testStack } from "../helpers/stack.ts";

let stack: TestStack;
const suffix = randomBytes(3).toString("hex");
const OWNER = `etl_owner_${suffix}`;
const LOADER = `etl_loader_${suffix}`;
const PASSWORD = "test-password";
/** A schema of this file's own, owned by OWNER, so the test stack's superuser schema stays apart. */
const SCHEMA = `etl_roles_${suffix}`;

function urlAs(role: string): string {
  const url = new URL(stack.databaseUrl);
  url.username = role;
  url.password = PASSWORD;
  return url.toString();
}

/** The environment of a command run as `role` on this file's schema. */
const envAs = (role: string, extra: Record<string, string> = {}) =>
  stack.env({ DATABASE_URL: urlAs(role), LOGIN_ETL_DB_SCHEMA: SCHEMA, ...extra });

async function rowsIn(schema: string): Promise<number> {
  const [row] = await stack.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.user_logins`);
  return Number(row?.n ?? 0);
}

beforeAll(async () => {
  stack = await testStack("dbfaults");
  await stack.query(`CREATE ROLE ${OWNER} LOGIN PASSWORD '${PASSWORD}'`);
  await stack.query(`CREATE ROLE ${LOADER} LOGIN PASSWORD '${PASSWORD}'`);
  await stack.query(`CREATE SCHEMA ${SCHEMA} AUTHORIZATION ${OWNER}`);
  // The owner needs to connect and create in the database only for the migration.
  const database = new URL(stack.databaseUrl).pathname.slice(1);
  await stack.query(`GRANT CONNECT ON DATABASE ${database} TO ${OWNER}, ${LOADER}`);
});
afterAll(async () => {
  await stack.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await stack.query(`DROP OWNED BY ${OWNER}, ${LOADER}`).catch(() => {});
  await stack.query(`DROP ROLE IF EXISTS ${LOADER}`);
  await stack.query(`DROP ROLE IF EXISTS ${OWNER}`);
  await stack.close();
});

describe("least privilege", () => {
  it("runs drain and run as a role with only USAGE on the schema and SELECT/INSERT on user_logins, once the owner migrated", async () => {
    // Bug: CREATE SCHEMA IF NOT EXISTS ran on every start, so the runtime role needed DDL rights.
    const migrated = await runCli(["migrate"], envAs(OWNER));
    expect(migrated.code, migrated.stderr).toBe(0);
    await stack.query(`GRANT USAGE ON SCHEMA ${SCHEMA} TO ${LOADER}`);
    await stack.query(`GRANT SELECT, INSERT ON ${SCHEMA}.user_logins TO ${LOADER}`);
    const [privileges] = await stack.query<{ create: boolean }>(
      `SELECT has_schema_privilege('${LOADER}', '${SCHEMA}', 'CREATE') AS create`,
    );
    expect(privileges?.create).toBe(false);

    await stack.freshQueues();
    await stack.send(Array.from({ length: 20 }, () => loginEvent()));
    const drained = await runCli(["drain", "--json", "--no-progress"], envAs(LOADER));
    expect(drained.code, drained.stderr).toBe(0);
    expect(lastJsonLine(drained.stdout)).toMatchObject({ received: 20, inserted: 20 });

    const service = await startRun(envAs(LOADER, { LOGIN_ETL_WAIT_TIME_SECONDS: "1" }));
    await stack.send(Array.from({ length: 5 }, () => loginEvent()));
    await eventually(
      () => rowsIn(SCHEMA),
      (n) => n === 25,
    );
    service.child.kill("SIGTERM");
    expect((await service.done).code).toBe(0);
  });

  it("tells a runtime role facing pending migrations to run migrate with the owner, instead of retrying", async () => {
    const schema = `etl_fresh_${suffix}`;
    await stack.query(`CREATE SCHEMA ${schema} AUTHORIZATION ${OWNER}`);
    await stack.query(`GRANT USAGE ON SCHEMA ${schema} TO ${LOADER}`);
    await stack.freshQueues();
    const res = await runCli(["drain"], envAs(LOADER, { LOGIN_ETL_DB_SCHEMA: schema }));
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("[DB_ACCESS_DENIED]");
    expect(res.stderr).toContain("run `login-etl migrate` once with a role that owns the schema");
    await stack.query(`DROP SCHEMA ${schema} CASCADE`);
  });

  it("refuses a DATABASE_URL whose options set another search_path than LOGIN_ETL_DB_SCHEMA (exit 2)", async () => {
    // Bug: options=-c search_path=… silently won: migrations in one schema, rows in another.
    const url = new URL(urlAs(OWNER));
    url.searchParams.set("options", "-c search_path=public");
    const res = await runCli(["drain"], envAs(OWNER, { DATABASE_URL: url.toString() }));
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("its options set search_path");
    expect(res.stderr).not.toContain(PASSWORD);
  });
});

describe("refusals that retrying cannot fix", () => {
  it("stops drain with exit 1 and DB_ACCESS_DENIED when the INSERT grant is revoked, printing the summary", async () => {
    // Bug: 42501 made drain loop (17 retries in 20 s) and never end.
    await stack.query(`REVOKE INSERT ON ${SCHEMA}.user_logins FROM ${LOADER}`);
    try {
      await stack.freshQueues();
      await stack.send(Array.from({ length: 10 }, () => loginEvent()));
      const res = await runCli(["drain", "--json", "--no-progress"], envAs(LOADER));
      expect(res.code).toBe(1);
      expect(res.stderr).toContain("[DB_ACCESS_DENIED]");
      expect(res.stderr).not.toMatch(STACK_TRACE);
      const summary = lastJsonLine(res.stdout);
      // A receive under way may bring some back during its grace: each is handed back too.
      expect(summary).toMatchObject({ inserted: 0, duplicates: 0 });
      expect(summary.received).toBeGreaterThanOrEqual(10);
      expect(summary.released).toBe(summary.received);
      // Nothing deleted, and handed back at once rather than left invisible for a visibility timeout.
      const counts = await stack.counts(stack.queueUrl);
      expect(counts).toEqual({ visible: 10, inFlight: 0 });

      const service = startCli(
        ["run"],
        envAs(LOADER, { LOGIN_ETL_HTTP_PORT: "0", LOGIN_ETL_WAIT_TIME_SECONDS: "1" }),
      );
      const ran = await service.done;
      expect(ran.code).toBe(1);
      expect(ran.stderr).toContain("DB_ACCESS_DENIED");
    } finally {
      await stack.query(`GRANT INSERT ON ${SCHEMA}.user_logins TO ${LOADER}`);
    }
  });

  it("refuses to start on a DEFERRABLE unique constraint on message_id (ON CONFLICT cannot use it)", async () => {
    // Bug: it passed the start-up check, then every batch with a redelivery failed with 55000 for ever.
    const schema = `etl_deferrable_${suffix}`;
    await stack.query(`CREATE SCHEMA ${schema}`);
    await stack.query(
      `CREATE TABLE ${schema}.user_logins(
         user_id varchar(128), device_type varchar(32), masked_ip varchar(256),
         masked_device_id varchar(256), locale varchar(32), app_version integer, create_date date,
         message_id text, app_version_text varchar(32),
         CONSTRAINT user_logins_message_id_key UNIQUE (message_id) DEFERRABLE INITIALLY DEFERRED)`,
    );
    await stack.freshQueues();
    const res = await runCli(["drain"], stack.env({ LOGIN_ETL_DB_SCHEMA: schema }));
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("[DB_SCHEMA_MISMATCH]");
    expect(res.stderr).toContain("(immediate, not DEFERRABLE)");
    await stack.query(`DROP SCHEMA ${schema} CASCADE`);
  });
});

describe("the shutdown deadline", () => {
  it("prints drain --json's summary also when it exits 1 after the deadline", async () => {
    await stack.freshQueues();
    await stack.send(Array.from({ length: 10 }, () => loginEvent()));
    const locker = new pg.Client({ connectionString: stack.databaseUrl });
    await locker.connect();
    try {
      // A write that cannot finish: the table is locked by another session.
      await locker.query("BEGIN");
      await locker.query(`LOCK TABLE ${SCHEMA}.user_logins IN ACCESS EXCLUSIVE MODE`);
      const drain = startCli(
        ["drain", "--json", "--no-progress"],
        envAs(OWNER, { LOGIN_ETL_SHUTDOWN_TIMEOUT_MS: "500" }),
      );
      await eventually(
        () =>
          stack.query<{ n: string }>(
            `SELECT count(*) AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
              WHERE c.relname = 'user_logins' AND NOT l.granted`,
          ),
        (rows) => Number(rows[0]?.n) > 0,
      );
      drain.child.kill("SIGTERM");
      const res = await drain.done;
      expect(res.code).toBe(1);
      expect(res.stderr).toContain("[SHUTDOWN_DEADLINE]");
      const summary = lastJsonLine(res.stdout);
      expect(summary).toMatchObject({ received: 10, inserted: 0, released: 10 });
      expect(typeof summary.seconds).toBe("number");
    } finally {
      await locker.query("ROLLBACK");
      await locker.end();
    }
  });
});
