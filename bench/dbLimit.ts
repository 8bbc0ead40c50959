// 2. Database limit: the pre-masked rows COPYed (pg-copy-streams) into a fresh
// user_logins, each stream in one COPY and one transaction. The COPY text is
// encoded before the clock starts, so this is PostgreSQL's and the wire's
// speed alone.
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { from as copyFrom } from "pg-copy-streams";
import { SINK_COLUMNS } from "../src/postgres/postgresSink.ts";
import type { LoginRow } from "../src/transform/toRow.ts";
import type { BenchDatabase } from "./database.ts";
import type { Etl } from "./etl.ts";
import type { Stack } from "./stack.ts";

// The columns login-etl's sink writes, in its order.
const COPY_SQL = `COPY user_logins (${SINK_COLUMNS.join(", ")}) FROM STDIN`;

export interface WriteRun {
  readonly rows: number;
  readonly seconds: number;
  readonly rowsPerSecond: number;
  /** CPU of this (client) process per row, µs. */
  readonly clientCpuUsPerRow: number;
  /** CPU of the PostgreSQL server per row, µs. */
  readonly postgresCpuUsPerRow: number;
}

/** The COPY text of `rows`, in chunks of 1 000 rows, as pg-copy-streams is fed by a stream. */
export function encodeCopyChunks(etl: Etl, rows: readonly LoginRow[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < rows.length; i += 1_000)
    chunks.push(Buffer.from(etl.sink.copyPayload(rows.slice(i, i + 1_000))));
  return chunks;
}

/**
 * COPYs the chunks over `streams` connections at once, each its share in one
 * COPY and one transaction. One stream is the plainest load; as many streams
 * as the sink has writers is what PostgreSQL can take on this machine.
 */
export async function measureRawCopy(
  stack: Stack,
  db: BenchDatabase,
  chunks: readonly Buffer[],
  rows: number,
  schema: string,
  streams = 1,
): Promise<WriteRun> {
  const pool = await db.freshSchema(schema, streams);
  const clients = await Promise.all(Array.from({ length: streams }, () => pool.connect()));
  const per = Math.ceil(chunks.length / streams);
  try {
    const pgBefore = stack.postgresCpuSeconds();
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await Promise.all(
      clients.map(async (client, i) => {
        await client.query("BEGIN");
        await pipeline(Readable.from(chunks.slice(i * per, (i + 1) * per)), client.query(copyFrom(COPY_SQL)));
        await client.query("COMMIT");
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const pgCpu = stack.postgresCpuSeconds() - pgBefore;
    const stored = await db.count(schema);
    if (stored !== rows) throw new Error(`raw COPY stored ${stored} rows, expected ${rows}`);
    return {
      rows,
      seconds,
      rowsPerSecond: rows / seconds,
      clientCpuUsPerRow: (cpu.user + cpu.system) / rows,
      postgresCpuUsPerRow: (pgCpu * 1e6) / rows,
    };
  } finally {
    for (const c of clients) c.release();
    await pool.end();
    await db.dropSchema(schema);
  }
}
