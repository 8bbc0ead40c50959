// Fresh, identical copies of the user_logins table for the database limit and
// the sink: one schema per measurement, migrated by login-etl's own
// migrations (same columns, same unique and secondary indexes), dropped after.
import pg from "pg";
import type { Etl } from "./etl.ts";

export interface BenchDatabase {
  /** A pool whose search_path is `schema`, made by login-etl's createPool; the schema is created and migrated. */
  freshSchema(schema: string, poolSize: number): Promise<pg.Pool>;
  dropSchema(schema: string): Promise<void>;
  count(schema: string): Promise<number>;
  close(): Promise<void>;
}

export function benchDatabase(etl: Etl, databaseUrl: string): BenchDatabase {
  const admin = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const log = etl.logger.createLogger("silent");
  return {
    async freshSchema(schema, poolSize) {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.query(`CREATE SCHEMA ${schema}`);
      const pool = etl.pool.createPool({ databaseUrl, schema, poolSize }, log);
      await etl.migrations.migrate(pool, schema);
      return pool;
    },
    async dropSchema(schema) {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
    async count(schema) {
      const res = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.user_logins`);
      return Number(res.rows[0]?.n ?? 0);
    },
    close: () => admin.end(),
  };
}
