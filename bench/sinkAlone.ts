// 3. Sink alone: login-etl's createPostgresSink writing the same rows from
// memory, in batches of the configured batch size (LOGIN_ETL_BATCH_SIZE), with
// the configured number of concurrent writers (LOGIN_ETL_WRITERS) on a pool
// made by login-etl's createPool, as the pipeline's writers do.
import type { LoginRow } from "../src/transform/toRow.ts";
import type { BenchDatabase } from "./database.ts";
import type { WriteRun } from "./dbLimit.ts";
import type { Etl } from "./etl.ts";
import type { Stack } from "./stack.ts";

export interface SinkShape {
  readonly batchSize: number;
  readonly writers: number;
}

export async function measureSink(
  stack: Stack,
  etl: Etl,
  db: BenchDatabase,
  rows: readonly LoginRow[],
  shape: SinkShape,
  schema: string,
): Promise<WriteRun> {
  const pool = await db.freshSchema(schema, shape.writers + 1);
  const sink = etl.sink.createPostgresSink(pool);
  const batches: LoginRow[][] = [];
  for (let i = 0; i < rows.length; i += shape.batchSize) batches.push(rows.slice(i, i + shape.batchSize));
  try {
    let next = 0;
    let inserted = 0;
    const writer = async () => {
      for (let batch = batches[next++]; batch; batch = batches[next++]) {
        const result = await sink.write(batch);
        inserted += result.inserted;
      }
    };
    const pgBefore = stack.postgresCpuSeconds();
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await Promise.all(Array.from({ length: shape.writers }, writer));
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const pgCpu = stack.postgresCpuSeconds() - pgBefore;
    if (inserted !== rows.length)
      throw new Error(`the sink inserted ${inserted} rows, expected ${rows.length}`);
    return {
      rows: rows.length,
      seconds,
      rowsPerSecond: rows.length / seconds,
      clientCpuUsPerRow: (cpu.user + cpu.system) / rows.length,
      postgresCpuUsPerRow: (pgCpu * 1e6) / rows.length,
    };
  } finally {
    await sink.close();
    await db.dropSchema(schema);
  }
}
