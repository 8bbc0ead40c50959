// The shape of bench/results/latest.json, and the targets of issue 4 judged
// against it.
import type { WriteRun } from "./dbLimit.ts";
import type { MaskingResult } from "./masking.ts";
import type { PipelineResult } from "./pipeline.ts";
import type { QueueLimitResult } from "./queueLimit.ts";
import type { RssResult } from "./rssRun.ts";
import type { SdkResult } from "./sdkOptions.ts";
import type { BenchSettings } from "./settings.ts";
import type { GridCell } from "./sinkGrid.ts";
import type { Spread } from "./stats.ts";
import type { VaultResult } from "./vault.ts";

export interface Machine {
  readonly cores: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly platform: string;
  readonly loadAverageAtStart: number[];
  readonly loadAverageAtEnd: number[];
}

export interface ProductConfig {
  readonly pollers: number;
  readonly batchSize: number;
  readonly flushIntervalMs: number;
  readonly writers: number;
  readonly maxInFlight: number;
}

export interface DatabaseResult {
  readonly rows: number;
  /** One COPY stream. */
  readonly rawCopy: { readonly runs: WriteRun[]; readonly rowsPerSecond: Spread };
  /** As many parallel COPY streams as the sink has writers (absent when that is 1). */
  readonly rawCopyParallel?: {
    readonly streams: number;
    readonly runs: WriteRun[];
    readonly rowsPerSecond: Spread;
  };
  /** The database limit: the better of the two medians. */
  readonly limitRowsPerSecond: number;
  readonly sink: {
    readonly runs: WriteRun[];
    readonly rowsPerSecond: Spread;
    readonly batchSize: number;
    readonly writers: number;
  };
}

export interface Target {
  readonly name: string;
  readonly measured: string;
  readonly target: string;
  readonly pass: boolean;
}

export interface BenchResults {
  readonly startedAt: string;
  readonly seconds: number;
  readonly machine: Machine;
  readonly settings: BenchSettings;
  readonly config: ProductConfig;
  readonly masking?: MaskingResult;
  readonly vault?: VaultResult;
  readonly database?: DatabaseResult;
  readonly queue?: QueueLimitResult;
  readonly pipeline?: PipelineResult;
  readonly rss?: RssResult;
  readonly sdk?: SdkResult;
  readonly sinkGrid?: GridCell[];
  /** Why the run stopped early, if it did. */
  readonly failure?: string;
  targets: Target[];
}

const MB = 2 ** 20;
/** Flat: the highest RSS of the second half of the long drain is within 10 % of the first half's (from 10 % on). */
export const FLAT_TOLERANCE = 1.1;
/** Issue 8: a 1M-message drain stays under 150 MB (issue 4 asked for 200 MB). */
export const RSS_LIMIT_BYTES = 150 * MB;
/** Issue 8: the drain's CPU per message against the lean plain loop's. */
export const CPU_RATIO_LIMIT = 1.6;
export const STARTUP_LIMIT_SECONDS = 0.5;

/** The faster plain loop (SDK or lean client): the queue limit the drain is measured against. */
export function queueLimitOf(q: QueueLimitResult): { messagesPerSecond: number; label: string } {
  const sdk = q.messagesPerSecond.median;
  const lean = q.lean?.messagesPerSecond.median ?? 0;
  return lean > sdk ? { messagesPerSecond: lean, label: "#1b" } : { messagesPerSecond: sdk, label: "#1" };
}

export function judge(r: BenchResults): Target[] {
  const targets: Target[] = [];
  if (r.pipeline && r.queue) {
    const limit = queueLimitOf(r.queue);
    const ratio = r.pipeline.messagesPerSecond.median / limit.messagesPerSecond;
    targets.push({
      name: `pipeline ≥ 0.8 × queue limit (the faster loop, ${limit.label})`,
      measured: `${ratio.toFixed(2)} ×`,
      target: "≥ 0.80 ×",
      pass: ratio >= 0.8,
    });
    if (r.queue.lean) {
      const cpuRatio = r.pipeline.steadyCpuUsPerMessage.median / r.queue.lean.consumerCpuUsPerMessage.median;
      targets.push({
        name: `drain CPU per message ≤ ${CPU_RATIO_LIMIT} × the lean loop's`,
        measured: `${cpuRatio.toFixed(2)} ×`,
        target: `≤ ${CPU_RATIO_LIMIT.toFixed(2)} ×`,
        pass: cpuRatio <= CPU_RATIO_LIMIT,
      });
    }
  }
  if (r.pipeline) {
    const startup = r.pipeline.startupSeconds.median;
    targets.push({
      name: `start-up to first message taken ≤ ${STARTUP_LIMIT_SECONDS} s`,
      measured: `${startup.toFixed(2)} s`,
      target: `≤ ${STARTUP_LIMIT_SECONDS} s`,
      pass: startup <= STARTUP_LIMIT_SECONDS,
    });
  }
  if (r.database) {
    const ratio = r.database.sink.rowsPerSecond.median / r.database.limitRowsPerSecond;
    targets.push({
      name: "sink ≥ 0.8 × database limit",
      measured: `${ratio.toFixed(2)} ×`,
      target: "≥ 0.80 ×",
      pass: ratio >= 0.8,
    });
  }
  if (r.rss) {
    targets.push({
      name: `peak RSS < ${RSS_LIMIT_BYTES / MB} MB (drain of ${r.rss.run.messages.toLocaleString("en-US")})`,
      measured: `${Math.round(r.rss.peakRssBytes / MB)} MB`,
      target: `< ${RSS_LIMIT_BYTES / MB} MB`,
      pass: r.rss.peakRssBytes < RSS_LIMIT_BYTES,
    });
    const growth = r.rss.secondHalfMaxRssBytes / r.rss.firstHalfMaxRssBytes;
    targets.push({
      name: "RSS flat (max 50–100 % ≤ 1.1 × max 10–50 %)",
      measured: `${growth.toFixed(2)} ×`,
      target: `≤ ${FLAT_TOLERANCE.toFixed(2)} ×`,
      pass: growth <= FLAT_TOLERANCE,
    });
  } else if (r.pipeline) {
    targets.push({
      name: `peak RSS < ${RSS_LIMIT_BYTES / MB} MB (pipeline runs; no long drain this time)`,
      measured: `${Math.round(r.pipeline.peakRssBytes.max / MB)} MB`,
      target: `< ${RSS_LIMIT_BYTES / MB} MB`,
      pass: r.pipeline.peakRssBytes.max < RSS_LIMIT_BYTES,
    });
  }
  if (r.masking) {
    const us = r.masking.maskUs.median;
    targets.push({
      name: "masking < 10 µs per message",
      measured: `${us.toFixed(1)} µs`,
      target: "< 10 µs",
      pass: us < 10,
    });
  }
  if (r.vault) {
    const us = r.vault.vaultUs.median;
    targets.push({
      name: "vault < 10 µs per message on top",
      measured: `${us.toFixed(1)} µs`,
      target: "< 10 µs",
      pass: us < 10,
    });
  }
  return targets;
}
