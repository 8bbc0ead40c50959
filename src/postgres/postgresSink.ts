// Sink into user_logins. One transaction per batch. Fast path: COPY, the
// fastest way in; a batch holding a message_id that is already stored (a
// redelivery) fails the COPY with a unique violation and is written again as
// INSERT … ON CONFLICT (message_id) DO NOTHING, which counts what was new.
// With the vault on (§3b), the batch's new sealed entries go in the same
// transaction as its rows: a crash leaves both or neither.
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import type { Sink, WriteResult } from "../pipeline/contracts.ts";
import type { LoginRow } from "../transform/toRow.ts";
import type { VaultBatch, VaultWriter } from "../vault/vaultWriter.ts";
import { withClient } from "./postgresPool.ts";
import { insertVaultBatch } from "./vaultTables.ts";

export const SINK_COLUMNS = [
  "message_id",
  "user_id",
  "device_type",
  "masked_ip",
  "masked_device_id",
  "locale",
  "app_version",
  "app_version_text",
  "create_date",
] as const;
const COPY_SQL = `COPY user_logins (${SINK_COLUMNS.join(", ")}) FROM STDIN`;
const INSERT_SQL = `INSERT INTO user_logins (${SINK_COLUMNS.join(", ")})
  SELECT * FROM unnest($1::text[], $2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[], $6::varchar[], $7::integer[], $8::varchar[], $9::date[])
  ON CONFLICT (message_id) DO NOTHING`;
const UNIQUE_VIOLATION = "23505";

const NEEDS_ESCAPE = /[\\\t\n\r]/;

/** COPY text format: backslash escapes for the characters that delimit fields and rows. */
function copyText(value: string | number | null): string {
  if (value === null) return "\\N";
  if (typeof value === "number") return String(value);
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/[\\\t\n\r]/g, (c) =>
    c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r",
  );
}

export function copyPayload(rows: readonly LoginRow[]): string {
  let out = "";
  for (const row of rows) {
    // The columns of SINK_COLUMNS, in its order, without an array and a join per row.
    out +=
      `${copyText(row.message_id)}\t${copyText(row.user_id)}\t${copyText(row.device_type)}\t` +
      `${copyText(row.masked_ip)}\t${copyText(row.masked_device_id)}\t${copyText(row.locale)}\t` +
      `${copyText(row.app_version)}\t${copyText(row.app_version_text)}\t${copyText(row.create_date)}\n`;
  }
  return out;
}

// A lone COPY is a transaction of its own (autocommit): all of the batch or
// none of it, without the two extra round trips of BEGIN and COMMIT.
async function copyRows(client: pg.PoolClient, rows: readonly LoginRow[]): Promise<void> {
  await pipeline(Readable.from([copyPayload(rows)]), client.query(copyFrom(COPY_SQL)));
}

async function insertRows(client: pg.PoolClient, rows: readonly LoginRow[]): Promise<number> {
  const res = await client.query(
    INSERT_SQL,
    SINK_COLUMNS.map((c) => rows.map((r) => r[c])),
  );
  return res.rowCount ?? 0;
}

type Attempt = <T>(fn: () => Promise<T>) => Promise<T>;
const alone: Attempt = (fn) => fn();

/**
 * The rows by COPY or, when the batch holds a message_id already stored (a unique
 * violation), by INSERT … ON CONFLICT DO NOTHING, which counts what was new. `attempt`
 * wraps each try: alone (a lone COPY commits by itself) or in a transaction with the vault batch.
 */
async function writeRows(
  client: pg.PoolClient,
  rows: readonly LoginRow[],
  attempt: Attempt = alone,
): Promise<WriteResult> {
  try {
    return await attempt(async () => {
      await copyRows(client, rows);
      return { inserted: rows.length, duplicates: 0 };
    });
  } catch (err) {
    if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
  }
  return attempt(async () => {
    const inserted = await insertRows(client, rows);
    return { inserted, duplicates: rows.length - inserted };
  });
}

/** One transaction per try: the rows and the vault batch, so that a crash leaves both or neither. */
const withVaultBatch =
  (client: pg.PoolClient, batch: VaultBatch): Attempt =>
  async (fn) => {
    await client.query("BEGIN");
    try {
      const result = await fn();
      await insertVaultBatch(client, batch);
      await client.query("COMMIT");
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    }
  };

/**
 * `probePool` serves the healthcheck, so that readiness probes never wait for (or hold) a
 * writer's connection; the writers' pool by default.
 */
export function createPostgresSink(
  pool: pg.Pool,
  vault?: VaultWriter,
  probePool: pg.Pool = pool,
): Sink & { close(): Promise<void> } {
  return {
    async healthcheck() {
      await withClient(probePool, "readiness", (client) => client.query("SELECT 1 FROM user_logins LIMIT 1"));
    },
    async write(rows): Promise<WriteResult> {
      if (rows.length === 0) return { inserted: 0, duplicates: 0 };
      const batch = vault?.entriesFor(rows);
      if (vault && batch && (batch.entries.length || batch.dataKeys.length)) {
        const result = await withClient(pool, "write batch", (client) =>
          writeRows(client, rows, withVaultBatch(client, batch)),
        );
        vault.committed(batch);
        return result;
      }
      return withClient(pool, "write batch", (client) => writeRows(client, rows));
    },
    close: () => pool.end(),
  };
}
