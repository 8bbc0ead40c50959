// `login-etl drain`: consume until the queue is empty, print a summary, exit 0.
import { createApp } from "../app.ts";
import { COMMAND_SETTINGS, type Config, type Flags, loadConfig } from "../config.ts";
import { createLogger } from "../ops/logger.ts";
import { createMetrics } from "../ops/metrics.ts";
import { startProgress } from "../ops/progress.ts";
import type { Summary } from "../pipeline/contracts.ts";
import { type CommandContext, print } from "./context.ts";

const DRAIN_WAIT_SECONDS = 1;

export function formatSummary(s: Summary): string {
  const rate = s.seconds > 0 ? Math.round(s.received / s.seconds) : 0;
  const reasons = Object.entries(s.rejected_by_reason)
    .map(([code, n]) => `${code} ${n}`)
    .join(", ");
  return [
    `received    ${s.received} in ${s.seconds.toFixed(1)} s (${rate}/s)`,
    `inserted    ${s.inserted}`,
    `duplicates  ${s.duplicates}`,
    `rejected    ${s.rejected}${reasons ? ` (${reasons})` : ""}${s.left_on_queue ? `, ${s.left_on_queue} left on the source queue (no DLQ, or the DLQ refused or was down)` : ""}`,
    ...(s.released ? [`released    ${s.released}`] : []),
    ...(s.ack_failed ? [`ack failed  ${s.ack_failed} (committed; will return as duplicates)`] : []),
  ].join("\n");
}

export async function drainQueue(
  ctx: CommandContext,
  config: Config,
  options: {
    progress: boolean;
    sqsCredentials?: { accessKeyId: string; secretAccessKey: string };
    /** Called with what was done when the loop stops with an error (the shutdown deadline, a revoked grant). */
    onFailure?: (summary: Summary) => void;
  },
): Promise<Summary> {
  const log = createLogger(config.logLevel);
  const metrics = createMetrics();
  const app = await createApp({
    config,
    log,
    metrics,
    stopWhenEmpty: true,
    waitTimeSeconds: config.waitTimeSeconds ?? DRAIN_WAIT_SECONDS,
    ...(options.sqsCredentials ? { sqsCredentials: options.sqsCredentials } : {}),
  });
  const stopProgress = options.progress
    ? startProgress(ctx.stderr, {
        done: () => app.pipeline.summary.received - app.pipeline.inFlight(),
        approximateTotal: app.queue.approximateMessages,
      })
    : () => {};
  try {
    return await app.pipeline.run(ctx.stop);
  } catch (err) {
    options.onFailure?.(app.pipeline.summary);
    throw err;
  } finally {
    stopProgress();
    await app.close();
  }
}

export async function drainCommand(
  ctx: CommandContext,
  flags: Flags & { json?: boolean; progress?: boolean },
): Promise<number> {
  const config = loadConfig(
    ctx.env,
    flags,
    new Set(["queue", "database", "keyring", "vault"]),
    COMMAND_SETTINGS.drain,
  );
  const report = (summary: Summary) =>
    print(ctx.stdout, flags.json ? JSON.stringify(summary) : formatSummary(summary));
  // DESIGN §5: the summary is printed also when the drain ends with exit 1 (what was
  // done before the deadline or the failure still happened).
  report(await drainQueue(ctx, config, { progress: flags.progress !== false, onFailure: report }));
  return 0;
}
