// 4. Pipeline end to end: `login-etl produce` puts N messages on a fresh queue
// (1 % malformed, 10 % repeated ip/device_id), then the real
// `login-etl drain --json --no-progress` drains it into a fresh schema.
import type { BenchDatabase } from "./database.ts";
import { type DrainRun, runDrain } from "./drainProcess.ts";
import type { Stack } from "./stack.ts";
import { type Spread, spread } from "./stats.ts";

export interface PipelineRun {
  readonly messages: number;
  readonly produceMessagesPerSecond: number;
  readonly messagesPerSecond: number;
  /** The drain's own summary.seconds (includes the empty-queue wait at the end). */
  readonly summarySeconds: number;
  readonly startupSeconds: number;
  readonly cpuUsPerMessage: number;
  readonly steadyCpuUsPerMessage: number;
  readonly emulatorCpuUsPerMessage: number;
  readonly postgresCpuUsPerMessage: number;
  readonly otherCpuUsPerMessage: number;
  readonly peakRssBytes: number;
  readonly inserted: number;
  readonly rejected: number;
  readonly duplicates: number;
  readonly profile: string | null;
}

export interface PipelineResult {
  readonly runs: PipelineRun[];
  readonly messagesPerSecond: Spread;
  readonly cpuUsPerMessage: Spread;
  readonly steadyCpuUsPerMessage: Spread;
  readonly emulatorCpuUsPerMessage: Spread;
  readonly postgresCpuUsPerMessage: Spread;
  readonly peakRssBytes: Spread;
  /** Spawn → first message taken, seconds. */
  readonly startupSeconds: Spread;
}

/** Checks the drain's accounting and the table against what was sent; returns the run's figures. */
export async function checkedRun(
  db: BenchDatabase,
  run: DrainRun,
  schema: string,
  messages: number,
): Promise<Omit<PipelineRun, "produceMessagesPerSecond">> {
  const { summary, measurement: m } = run;
  const stored = await db.count(schema);
  if (summary.inserted + summary.rejected !== messages || stored !== summary.inserted) {
    throw new Error(
      `drain accounting does not add up: ${JSON.stringify(summary)}, ${stored} rows stored, ${messages} sent`,
    );
  }
  return {
    messages,
    messagesPerSecond: m.messagesPerSecond,
    summarySeconds: summary.seconds,
    startupSeconds: m.startupSeconds,
    cpuUsPerMessage: run.cpuUsPerMessage,
    steadyCpuUsPerMessage: run.steadyCpuUsPerMessage,
    emulatorCpuUsPerMessage: (m.emulatorCpuSeconds * 1e6) / messages,
    postgresCpuUsPerMessage: (m.postgresCpuSeconds * 1e6) / messages,
    otherCpuUsPerMessage: (m.otherCpuSeconds * 1e6) / messages,
    peakRssBytes: run.report.maxRssBytes,
    inserted: summary.inserted,
    rejected: summary.rejected,
    duplicates: summary.duplicates,
    profile: run.profile,
  };
}

export async function pipelineRun(
  stack: Stack,
  db: BenchDatabase,
  keyring: string,
  rep: number,
): Promise<PipelineRun> {
  const { settings } = stack;
  const name = `bench-pipeline-${rep}`;
  const schema = `bench_pipeline_${rep}`;
  const { queueUrl, dlqUrl } = await stack.emulator.createQueues(name);
  try {
    await db.dropSchema(schema);
    const produceMessagesPerSecond = await stack.produce(queueUrl, settings.messages);
    const run = await runDrain(stack, {
      queueName: name,
      queueUrl,
      dlqUrl,
      schema,
      keyring,
      total: settings.messages,
      fed: false,
      label: `pipeline-${rep}`,
    });
    return { ...(await checkedRun(db, run, schema, settings.messages)), produceMessagesPerSecond };
  } finally {
    await stack.emulator.deleteQueues(name);
    await db.dropSchema(schema);
  }
}

export async function measurePipeline(
  stack: Stack,
  db: BenchDatabase,
  keyring: string,
  log: (line: string) => void,
): Promise<PipelineResult> {
  const runs: PipelineRun[] = [];
  for (let r = 1; r <= stack.settings.repeat; r++) {
    const run = await pipelineRun(stack, db, keyring, r);
    log(
      `  pipeline ${r}/${stack.settings.repeat}: ${run.messages} messages → ${Math.round(run.messagesPerSecond)} msg/s, ` +
        `${Math.round(run.cpuUsPerMessage)} µs CPU/msg, peak RSS ${Math.round(run.peakRssBytes / 2 ** 20)} MB`,
    );
    runs.push(run);
  }
  const of = (f: (r: PipelineRun) => number) => spread(runs.map(f));
  return {
    runs,
    messagesPerSecond: of((r) => r.messagesPerSecond),
    cpuUsPerMessage: of((r) => r.cpuUsPerMessage),
    steadyCpuUsPerMessage: of((r) => r.steadyCpuUsPerMessage),
    emulatorCpuUsPerMessage: of((r) => r.emulatorCpuUsPerMessage),
    postgresCpuUsPerMessage: of((r) => r.postgresCpuUsPerMessage),
    peakRssBytes: of((r) => r.peakRssBytes),
    startupSeconds: of((r) => r.startupSeconds),
  };
}
