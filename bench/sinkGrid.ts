// Optional phase (BENCH_ONLY=…,sinkgrid): the sink alone over batch sizes ×
// writer counts, repetitions interleaved, to choose LOGIN_ETL_BATCH_SIZE and
// LOGIN_ETL_WRITERS from measurements.
import type { LoginRow } from "../src/transform/toRow.ts";
import type { BenchDatabase } from "./database.ts";
import type { Etl } from "./etl.ts";
import { measureSink } from "./sinkAlone.ts";
import type { Stack } from "./stack.ts";
import { type Spread, spread } from "./stats.ts";

export const GRID_BATCH_SIZES = [250, 500, 1000, 2000, 5000];
export const GRID_WRITERS = [1, 2, 4];

export interface GridCell {
  readonly batchSize: number;
  readonly writers: number;
  readonly rowsPerSecond: Spread;
  /** Client (login-etl) and PostgreSQL CPU per row, µs, medians. */
  readonly clientCpuUsPerRow: number;
  readonly postgresCpuUsPerRow: number;
}

export async function measureSinkGrid(
  stack: Stack,
  etl: Etl,
  db: BenchDatabase,
  rows: readonly LoginRow[],
  log: (line: string) => void,
): Promise<GridCell[]> {
  const shapes = GRID_BATCH_SIZES.flatMap((batchSize) =>
    GRID_WRITERS.map((writers) => ({ batchSize, writers })),
  );
  const runs = shapes.map(() => [] as Array<Awaited<ReturnType<typeof measureSink>>>);
  for (let r = 0; r < stack.settings.repeat; r++) {
    for (const [i, shape] of shapes.entries())
      runs[i]?.push(await measureSink(stack, etl, db, rows, shape, "bench_grid"));
    log(`  sink grid ${r + 1}/${stack.settings.repeat} done`);
  }
  return shapes.map((shape, i) => {
    const list = runs[i] ?? [];
    const med = (f: (x: (typeof list)[number]) => number) => spread(list.map(f)).median;
    return {
      ...shape,
      rowsPerSecond: spread(list.map((x) => x.rowsPerSecond)),
      clientCpuUsPerRow: med((x) => x.clientCpuUsPerRow),
      postgresCpuUsPerRow: med((x) => x.postgresCpuUsPerRow),
    };
  });
}
