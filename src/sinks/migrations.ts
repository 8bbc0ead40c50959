// Versioned, additive migrations from migrations/*.sql, recorded in
// login_etl_schema_migrations and applied under an advisory lock so that two
// instances starting together do not race.
import { readdirSync, readFileSync } from "node:fs";
import type pg from "pg";
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

/** Applies what is missing; resolves to the versions applied now (empty when up to date). */
export async function migrate(pool: pg.Pool, schema: string): Promise<Migration[]> {
  return withClient(pool, "migrate", async (client) => {
    try {
      await client.query("BEGIN");
      await client.query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY]);
      // IF NOT EXISTS still needs the CREATE privilege: look first, so that a role
      // without it (the vault's loader role) starts once the schema is up to date.
      const { rows: present } = await client.query<{ schema: boolean; table: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS schema,
                to_regclass($2) IS NOT NULL AS table`,
        [schema, `${quoteIdent(schema)}.login_etl_schema_migrations`],
      );
      if (schema !== "public" && !present[0]?.schema)
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
      if (!present[0]?.table) {
        await client.query(
          `CREATE TABLE IF NOT EXISTS login_etl_schema_migrations(
             version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
        );
      }
      const done = new Set(
        (await client.query<{ version: number }>("SELECT version FROM login_etl_schema_migrations")).rows.map(
          (r) => r.version,
        ),
      );
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
      throw err;
    }
  });
}

/**
 * Idempotency rests on a valid, unique, non-partial index on message_id alone.
 * Migration 002 creates one only if no index of that name exists, so a hand-made
 * index of the same name (not unique, partial, or left INVALID by a failed
 * CREATE INDEX CONCURRENTLY) would pass unnoticed: check the real thing.
 */
export async function hasIdempotencyIndex(pool: pg.Pool): Promise<boolean> {
  const { rows } = await withClient(pool, "inspect indexes", (client) =>
    client.query(
      `SELECT 1 FROM pg_index i
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
      WHERE i.indrelid = to_regclass('user_logins') AND i.indisunique AND i.indisvalid
        AND i.indpred IS NULL AND i.indnkeyatts = 1 AND a.attname = 'message_id'`,
    ),
  );
  return rows.length > 0;
}

export const IDEMPOTENCY_INDEX_PROBLEM =
  "user_logins has no valid UNIQUE index on (message_id) alone, so a redelivered message could be stored twice: create it with `CREATE UNIQUE INDEX CONCURRENTLY user_logins_message_id_key ON user_logins (message_id)` (drop a non-unique or invalid index of that name first)";
