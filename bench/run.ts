// `npm run bench`: measures login-etl against the limits of this machine in one
// run (issue 4) and prints the table; the results go to
// bench/results/latest.json. Knobs (environment):
//   BENCH_MESSAGES (100000)       messages per pipeline and queue-limit repetition
//   BENCH_REPEAT (3)              repetitions; the table shows medians
//   BENCH_RSS_MESSAGES (1000000)  messages through the long drain that samples RSS
//   BENCH_PROBE_MESSAGES (20000)  messages per poller-count probe of the queue limit
//   BENCH_POLLERS (1,4,8,16)      poller counts probed for the queue limit
//   BENCH_DB_ROWS (= messages)    rows for the database limit and the sink
//   BENCH_ONLY                    some of masking,db,queue,pipeline,rss (the default
//                                 set) and the optional sdk, sinkgrid
//   BENCH_PROFILE=1               V8 CPU profiles of the drains and loops
//                                 (bench/results/profiles; read with bench/profileSummary.ts)
//   BENCH_LOGS=1                  full output of each drain in bench/results/logs
//   BENCH_NODE_OPTIONS            extra Node options for the drains (heap experiments)
//   BENCH_ETL_ROOT                measure another checkout (a patched copy)
//   BENCH_FROM_SOURCE=1           drains run the checkout's TypeScript (as `npm start`), not
//                                 the compiled dist/ that the package and the image ship
// LOGIN_ETL_* tune login-etl as usual (the drains and the sink alone follow them).
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { benchDatabase } from "./database.ts";
import { encodeCopyChunks, measureRawCopy, type WriteRun } from "./dbLimit.ts";
import { loadEtl } from "./etl.ts";
import { measureMasking } from "./masking.ts";
import { measurePipeline } from "./pipeline.ts";
import { loadAverage } from "./proc.ts";
import { measureQueueLimit } from "./queueLimit.ts";
import type { BenchResults, DatabaseResult, ProductConfig } from "./results.ts";
import { judge } from "./results.ts";
import { benchKeyring, buildRows } from "./rows.ts";
import { measureRss } from "./rssRun.ts";
import { measureSdkOptions } from "./sdkOptions.ts";
import { loadSettings, RESULTS_DIR } from "./settings.ts";
import { measureSink } from "./sinkAlone.ts";
import { measureSinkGrid } from "./sinkGrid.ts";
import { startStack } from "./stack.ts";
import { spread } from "./stats.ts";
import { formatReport } from "./table.ts";
import { measureVault } from "./vault.ts";

const log = (line: string) => process.stderr.write(`${line}\n`);

const settings = loadSettings();
const etl = await loadEtl(settings.etlRoot);
const productConfig = etl.config.loadConfig(process.env, {}, new Set());
const config: ProductConfig = {
  pollers: productConfig.pollers,
  batchSize: productConfig.batchSize,
  flushIntervalMs: productConfig.flushIntervalMs,
  writers: productConfig.writers,
  maxInFlight: productConfig.maxInFlight,
};
const started = Date.now();
const loadAtStart = loadAverage();
const keyring = benchKeyring();
const has = (phase: (typeof settings.phases)[number]) => settings.phases.includes(phase);
const results: Omit<BenchResults, "seconds" | "machine" | "targets"> & Partial<BenchResults> = {
  startedAt: new Date(started).toISOString(),
  settings,
  config,
};

log(
  `login-etl benchmark: phases ${settings.phases.join(", ")}; N = ${settings.messages}, ${settings.repeat} repetitions`,
);
if (has("masking")) {
  log("masking…");
  Object.assign(results, { masking: measureMasking(etl, settings, keyring) });
  const vault = await measureVault(etl, settings, keyring, config.batchSize);
  if (vault) Object.assign(results, { vault });
}

log("starting the embedded PostgreSQL and the emulator process…");
const stack = await startStack(settings);
const db = benchDatabase(etl, stack.postgres.databaseUrl);
let exitCode = 0;
try {
  const rows = has("db") || has("sinkgrid") ? buildRows(etl, settings, keyring, settings.dbRows) : [];
  if (has("db")) {
    log(`database limit and sink alone (${rows.length} rows)…`);
    const chunks = encodeCopyChunks(etl, rows);
    const raw: WriteRun[] = [];
    const parallel: WriteRun[] = [];
    const sink: WriteRun[] = [];
    for (let r = 1; r <= settings.repeat; r++) {
      raw.push(await measureRawCopy(stack, db, chunks, rows.length, `bench_copy_${r}`));
      if (config.writers > 1)
        parallel.push(
          await measureRawCopy(stack, db, chunks, rows.length, `bench_copy_${r}`, config.writers),
        );
      sink.push(await measureSink(stack, etl, db, rows, config, `bench_sink_${r}`));
      const rate = (runs: WriteRun[]) => Math.round(runs.at(-1)?.rowsPerSecond ?? 0);
      log(
        `  ${r}/${settings.repeat}: raw COPY ${rate(raw)} rows/s${parallel.length ? `, ${config.writers} streams ${rate(parallel)}` : ""}, sink ${rate(sink)} rows/s`,
      );
    }
    const rawCopy = { runs: raw, rowsPerSecond: spread(raw.map((x) => x.rowsPerSecond)) };
    const rawCopyParallel = parallel.length
      ? {
          streams: config.writers,
          runs: parallel,
          rowsPerSecond: spread(parallel.map((x) => x.rowsPerSecond)),
        }
      : undefined;
    const database: DatabaseResult = {
      rows: rows.length,
      rawCopy,
      ...(rawCopyParallel ? { rawCopyParallel } : {}),
      limitRowsPerSecond: Math.max(rawCopy.rowsPerSecond.median, rawCopyParallel?.rowsPerSecond.median ?? 0),
      sink: {
        runs: sink,
        rowsPerSecond: spread(sink.map((x) => x.rowsPerSecond)),
        batchSize: config.batchSize,
        writers: config.writers,
      },
    };
    Object.assign(results, { database });
  }
  if (has("queue")) {
    log("queue limit…");
    Object.assign(results, { queue: await measureQueueLimit(stack, log) });
  }
  if (has("pipeline")) {
    log("pipeline end to end…");
    Object.assign(results, { pipeline: await measurePipeline(stack, db, keyring, log) });
  }
  if (has("rss")) {
    log(`long drain of ${settings.rssMessages} messages for memory…`);
    Object.assign(results, { rss: await measureRss(stack, db, keyring, log) });
  }
  if (has("sinkgrid")) {
    log("sink over batch sizes × writers…");
    Object.assign(results, { sinkGrid: await measureSinkGrid(stack, etl, db, rows, log) });
  }
  if (has("sdk")) {
    log("SQS client options…");
    Object.assign(results, { sdk: await measureSdkOptions(stack, results.queue?.bestPollers ?? 8, log) });
  }
} catch (err) {
  log(`benchmark failed: ${(err as Error).stack ?? err}`);
  Object.assign(results, { failure: String((err as Error).message ?? err).split("\n")[0] });
  exitCode = 1;
} finally {
  await db.close();
  await stack.stop();
}

const cpus = os.cpus();
const final: BenchResults = {
  ...results,
  seconds: (Date.now() - started) / 1000,
  machine: {
    cores: cpus.length,
    cpuModel: (cpus[0]?.model ?? "unknown").replace(/\s+/g, " ").trim(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAverageAtStart: loadAtStart,
    loadAverageAtEnd: loadAverage(),
  },
  targets: [],
};
final.targets = judge(final);
mkdirSync(RESULTS_DIR, { recursive: true });
const file = path.join(RESULTS_DIR, "latest.json");
writeFileSync(file, `${JSON.stringify(final, null, 2)}\n`);
process.stdout.write(`\n${formatReport(final)}\n\nresults: ${path.relative(process.cwd(), file)}\n`);
process.exit(exitCode);
