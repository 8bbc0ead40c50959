// Migrations (DESIGN.md §4): the legacy table is extended, never replaced.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/ops/logger.ts";
import { hasIdempotencyIndex, loadMigrations, migrate } from "../../src/postgres/migrations.ts";
import { createPool } from "../../src/postgres/postgresPool.ts";
import { type TestStack, testStack } from "../helpers/stack.ts";

const LEGACY_DDL = `CREATE TABLE user_logins(
    user_id varchar(128), device_type varchar(32), masked_ip varchar(256),
    masked_device_id varchar(256), locale varchar(32), app_version integer, create_date date)`;

let stack: TestStack;
let pool: ReturnType<typeof createPool>;

beforeAll(async () => {
  stack = await testStack("migrations");
  pool = createPool(
    { databaseUrl: stack.databaseUrl, schema: stack.schema, poolSize: 4 },
    createLogger("silent"),
  );
});
afterAll(async () => {
  await pool.end();
  await stack.close();
});
beforeEach(async () => {
  await stack.query("DROP TABLE IF EXISTS user_logins, login_etl_schema_migrations");
});

const columns = async () =>
  Object.fromEntries(
    (
      await stack.query<{ name: string; type: string }>(
        `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a
          WHERE a.attrelid = 'user_logins'::regclass AND a.attnum > 0 AND NOT a.attisdropped`,
      )
    ).map((r) => [r.name, r.type]),
  );

describe("migrate", () => {
  it("extends a legacy table that holds rows without touching them", async () => {
    await stack.query(LEGACY_DDL);
    await stack.query(
      "INSERT INTO user_logins VALUES ('legacy-1', 'android', 'abc', 'def', 'en', 20300, '2021-06-01')",
    );
    const applied = await migrate(pool, stack.schema);
    expect(applied.map((m) => m.version)).toEqual(loadMigrations().map((m) => m.version));
    expect(await columns()).toEqual({
      user_id: "character varying(128)",
      device_type: "character varying(32)",
      masked_ip: "character varying(256)",
      masked_device_id: "character varying(256)",
      locale: "character varying(32)",
      app_version: "integer",
      create_date: "date",
      message_id: "text",
      app_version_text: "character varying(32)",
    });
    expect(await stack.query("SELECT * FROM user_logins")).toEqual([
      {
        user_id: "legacy-1",
        device_type: "android",
        masked_ip: "abc",
        masked_device_id: "def",
        locale: "en",
        app_version: 20300,
        create_date: "2021-06-01",
        message_id: null,
        app_version_text: null,
      },
    ]);
  });

  it("creates the table, the unique message_id index and the lookup indexes on an empty database", async () => {
    await migrate(pool, stack.schema);
    const defs = (
      await stack.query<{ def: string }>(
        "SELECT indexdef AS def FROM pg_indexes WHERE tablename = 'user_logins' AND schemaname = current_schema()",
      )
    ).map((r) => r.def);
    expect(defs.some((d) => /CREATE UNIQUE INDEX .* \(message_id\)$/.test(d))).toBe(true);
    expect(defs.some((d) => /\(masked_ip\)$/.test(d))).toBe(true);
    expect(defs.some((d) => /\(masked_device_id\)$/.test(d))).toBe(true);
  });

  it("is idempotent and records each version once", async () => {
    await migrate(pool, stack.schema);
    expect(await migrate(pool, stack.schema)).toEqual([]);
    const recorded = await stack.query<{ version: number }>(
      "SELECT version FROM login_etl_schema_migrations ORDER BY version",
    );
    expect(recorded.map((r) => r.version)).toEqual(loadMigrations().map((m) => m.version));
  });

  it("lets several instances start at once without failing", async () => {
    const results = await Promise.all([
      migrate(pool, stack.schema),
      migrate(pool, stack.schema),
      migrate(pool, stack.schema),
    ]);
    expect(results.map((r) => r.length).sort()).toEqual([0, 0, loadMigrations().length]);
  });

  it("keeps legacy rows with a NULL message_id alongside new rows (NULLs do not collide)", async () => {
    await stack.query(LEGACY_DDL);
    await stack.query("INSERT INTO user_logins(user_id) VALUES ('a'), ('b')");
    await migrate(pool, stack.schema);
    await stack.query("INSERT INTO user_logins(user_id, message_id) VALUES ('c', 'm-1')");
    await expect(
      stack.query("INSERT INTO user_logins(user_id, message_id) VALUES ('d', 'm-1')"),
    ).rejects.toThrow(/duplicate key/);
    expect((await stack.query("SELECT user_id FROM user_logins WHERE message_id IS NULL")).length).toBe(2);
  });

  it("notices when a hand-made index of the migration's name is not unique, so start-up can refuse", async () => {
    await stack.query(LEGACY_DDL);
    await stack.query("ALTER TABLE user_logins ADD COLUMN message_id text");
    await stack.query("CREATE INDEX user_logins_message_id_key ON user_logins (message_id)");
    await migrate(pool, stack.schema);
    expect(await hasIdempotencyIndex(pool)).toBe(false);
    await stack.query("DROP INDEX user_logins_message_id_key");
    await stack.query("CREATE UNIQUE INDEX user_logins_message_id_key ON user_logins (message_id)");
    expect(await hasIdempotencyIndex(pool)).toBe(true);
  });
});
