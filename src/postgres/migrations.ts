// Versioned, additive migrations from migrations/*.sql, recorded in
// login_etl_schema_migrations and applied under an advisory lock so that two
// instances starting together do not race. When nothing is pending no DDL runs
// at all, so a runtime role with only USAGE on the schema and SELECT/INSERT on
// the table can start once an owner role has run `login-etl migrate`.
import { readdirSync, readFileSync } from "node:fs";
import type pg from "pg";
import { EtlError, isEtlError } from "../errors.ts";
import { quoteIdent, withClient } from "./postgresPool.ts";

const MIGRATIONS_DIR = new URL("../../migrations/", import.meta.url);
const LOCK_KEY = 0x6c6f67696e; // "login"

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export function loadMigrations(): Migration[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 3)),
      name: file.slice(4, -4),
      sql: readFileSync(new URL(file, MIGRATIONS_DIR), "utf8"),
    }));
}

/** The migrations not yet recorded, read without DDL or locks. */
export async function pendingMigrations(pool: pg.Pool): Promise<Migration[]> {
  return withClient(pool, "read applied migrations", async (client) => {
    const { rows } = await client.query<{ present: boolean }>(
      "SELECT to_regclass('login_etl_schema_migrations') IS NOT NULL AS present",
    );
    if (!rows[0]?.present) return loadMigrations();
    const done = await appliedVersions(client).catch((err: unknown) => {
      if (isEtlError(err) || (err as { code?: string }).code !== "42501") throw err;
      throw new EtlError(
        "DB_ACCESS_DENIED",
        "the DATABASE_URL role may not read login_etl_schema_migrations: run `login-etl migrate` once with the owner role (it grants SELECT on that table to every role), or grant it yourself",
        { retryable: false, context: { operation: "read applied migrations" } },
      );
    });
    return loadMigrations().filter((m) => !done.has(m.version));
  });
}

async function appliedVersions(client: pg.PoolClient): Promise<Set<number>> {
  const { rows } = await client.query<{ version: number }>("SELECT version FROM login_etl_schema_migrations");
  return new Set(rows.map((r) => r.version));
}

/**
 * Applies what is missing; resolves to the versions applied now (empty when up
 * to date). Without `always`, nothing is done (no DDL, no lock) when nothing is
 * pending; `login-etl migrate` passes it to also renew the ledger's grant.
 */
export async function migrate(
  pool: pg.Pool,
  schema: string,
  options: { always?: boolean } = {},
): Promise<Migration[]> {
  if (!options.always && (await pendingMigrations(pool)).length === 0) return [];
  return withClient(pool, "migrate", async (client) => {
    try {
      await client.query("BEGIN");
      await client.query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY]);
      // CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema
      // exists: an owner of just the schema could not migrate.
      const { rowCount } = await client.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema]);
      if (!rowCount) await client.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS login_etl_schema_migrations(
           version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      // Which versions are applied is no secret: a runtime role must be able to tell that nothing is pending.
      await client.query("GRANT SELECT ON login_etl_schema_migrations TO PUBLIC");
      const done = await appliedVersions(client);
      const applied: Migration[] = [];
      for (const migration of loadMigrations()) {
        if (done.has(migration.version)) continue;
        await client.query(migration.sql);
        await client.query("INSERT INTO login_etl_schema_migrations(version, name) VALUES ($1, $2)", [
          migration.version,
          migration.name,
        ]);
        applied.push(migration);
      }
      await client.query("COMMIT");
      return applied;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      if ((err as { code?: string }).code === "42501") {
        throw new EtlError(
          "DB_ACCESS_DENIED",
          "migrations are pending and the DATABASE_URL role may not apply them: run `login-etl migrate` once with a role that owns the schema, then start again",
          { cause: err, retryable: false, context: { operation: "migrate", sqlstate: "42501" } },
        );
      }
      throw err;
    }
  });
}

/**
 * Idempotency rests on a valid, unique, immediate (not DEFERRABLE: ON CONFLICT
 * cannot use a deferrable one), non-partial index on message_id alone.
 * Migration 002 creates one only if no index of that name exists, so a hand-made
 * index of the same name (not unique, partial, or left INVALID by a failed
 * CREATE INDEX CONCURRENTLY) would pass unnoticed: check the real thing.
 */
export async function hasIdempotencyIndex(pool: pg.Pool): Promise<boolean> {
  const { rows } = await withClient(pool, "inspect indexes", (client) =>
    client.query(
      `SELECT 1 FROM pg_index i
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
      WHERE i.indrelid = to_regclass('user_logins') AND i.indisunique AND i.indisvalid AND i.indimmediate
        AND i.indpred IS NULL AND i.indnkeyatts = 1 AND a.attname = 'message_id'`,
    ),
  );
  return rows.length > 0;
}

export const IDEMPOTENCY_INDEX_PROBLEM =
  "user_logins has no valid UNIQUE index on (message_id) alone (immediate, not DEFERRABLE), so a redelivered message could be stored twice: create it with `CREATE UNIQUE INDEX CONCURRENTLY user_logins_message_id_key ON user_logins (message_id)` (drop a non-unique, deferrable or invalid index or constraint of that name first)";
