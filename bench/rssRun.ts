// 5. Memory over a long drain: BENCH_RSS_MESSAGES messages (default
// 1 000 000) stream through one `login-etl drain`, fed into the queue as it
// drains (see feed in bench/fauxqsServer.ts for why), while the drain
// process's RSS is sampled every 100 ms.
import type { BenchDatabase } from "./database.ts";
import { runDrain } from "./drainProcess.ts";
import type { Sample } from "./measureDrain.ts";
import { checkedRun, type PipelineRun } from "./pipeline.ts";
import type { Stack } from "./stack.ts";

const FEED_LOW = 4_000;
const FEED_HIGH = 8_000;

export interface RssPoint {
  readonly percent: number;
  readonly rssBytes: number;
}

export interface RssResult {
  readonly run: Omit<PipelineRun, "produceMessagesPerSecond">;
  /** RSS when 10 %, 50 % and 100 % of the messages were done. */
  readonly points: RssPoint[];
  /** Highest sampled RSS in the first and the second half of the run. */
  readonly firstHalfMaxRssBytes: number;
  readonly secondHalfMaxRssBytes: number;
  /** Peak RSS of the whole process (VmHWM at exit). */
  readonly peakRssBytes: number;
  /** Every 10th sample: { percent done, RSS MB }. */
  readonly curve: Array<{ percent: number; rssMb: number }>;
}

function rssAt(timeline: readonly Sample[], total: number, fraction: number): number {
  const sample = timeline.find((s) => s.done >= total * fraction && s.rssBytes !== null) ?? timeline.at(-1);
  return sample?.rssBytes ?? Number.NaN;
}

export async function measureRss(
  stack: Stack,
  db: BenchDatabase,
  keyring: string,
  log: (line: string) => void,
): Promise<RssResult> {
  const { settings } = stack;
  const total = settings.rssMessages;
  const name = "bench-rss";
  const schema = "bench_rss";
  const { queueUrl, dlqUrl } = await stack.emulator.createQueues(name);
  try {
    await db.dropSchema(schema);
    await stack.emulator.feed({
      name,
      total,
      seed: settings.seed,
      malformedRatio: settings.malformedRatio,
      duplicateRatio: settings.duplicateRatio,
      low: FEED_LOW,
      high: FEED_HIGH,
    });
    const drain = await runDrain(stack, {
      queueName: name,
      queueUrl,
      dlqUrl,
      schema,
      keyring,
      total,
      fed: true,
      label: "rss",
    });
    const run = await checkedRun(db, drain, schema, total);
    const timeline = drain.measurement.timeline;
    const rss = (from: number, to: number) =>
      Math.max(
        ...timeline
          .filter((s) => s.done >= total * from && s.done <= total * to && s.rssBytes !== null)
          .map((s) => s.rssBytes as number),
      );
    const result: RssResult = {
      run,
      points: [0.1, 0.5, 1].map((f) => ({ percent: f * 100, rssBytes: rssAt(timeline, total, f) })),
      firstHalfMaxRssBytes: rss(0.1, 0.5),
      secondHalfMaxRssBytes: rss(0.5, 1),
      peakRssBytes: drain.report.maxRssBytes,
      curve: timeline
        .filter((_, i) => i % 10 === 0)
        .map((s) => ({
          percent: Math.round((1000 * s.done) / total) / 10,
          rssMb: Math.round((s.rssBytes ?? 0) / 2 ** 20),
        })),
    };
    log(
      `  long drain: ${total} messages → ${Math.round(run.messagesPerSecond)} msg/s, RSS ${result.points.map((p) => `${p.percent}% ${Math.round(p.rssBytes / 2 ** 20)} MB`).join(", ")}, peak ${Math.round(result.peakRssBytes / 2 ** 20)} MB`,
    );
    return result;
  } finally {
    await stack.emulator.deleteQueues(name);
    await db.dropSchema(schema);
  }
}
