// `login-etl run`: the service. Consumes until SIGTERM/SIGINT and serves
// /livez, /readyz and /metrics (from the start, so an orchestrator sees the
// process alive while it waits for SQS or PostgreSQL). Shutdown order:
// /readyz turns 503, long polls are aborted, what is in hand is written and
// deleted (the rest released at the deadline), then the pool and server close.
import { type App, createApp } from "../app.ts";
import { COMMAND_SETTINGS, type Flags, loadConfig, redactUrl } from "../config.ts";
import { startOpsServer } from "../ops/httpServer.ts";
import { createLogger } from "../ops/logger.ts";
import { createMetrics } from "../ops/metrics.ts";
import { pingQueue } from "../sources/sqsQueueInfo.ts";
import type { CommandContext } from "./context.ts";

const RUN_WAIT_SECONDS = 20;

export async function runCommand(ctx: CommandContext, flags: Flags): Promise<number> {
  const config = loadConfig(
    ctx.env,
    flags,
    new Set(["queue", "database", "keyring", "vault"]),
    COMMAND_SETTINGS.run,
  );
  const log = createLogger(config.logLevel);
  const metrics = createMetrics();
  const queueUrl = config.queueUrl as string;
  let app: App | null = null;
  const started = () => {
    if (!app) throw Object.assign(new Error("starting"), { code: "starting" });
    return app;
  };
  const ops = await startOpsServer({
    host: config.httpHost,
    port: config.httpPort,
    registry: metrics.registry,
    probes: [
      {
        name: "postgres",
        check: async () => void (await started().pool.query("SELECT 1 FROM user_logins LIMIT 1")),
      },
      { name: "sqs", check: () => pingQueue(started().sqs, queueUrl) },
    ],
  });
  ctx.stop.addEventListener(
    "abort",
    () => {
      ops.setDraining();
      log.info({ shutdownTimeoutMs: config.shutdownTimeoutMs }, "shutting down: finishing what is in hand");
    },
    { once: true },
  );
  try {
    try {
      app = await createApp({
        config,
        log,
        metrics,
        stopWhenEmpty: false,
        waitTimeSeconds: config.waitTimeSeconds ?? RUN_WAIT_SECONDS,
        waitForDependencies: ctx.stop,
      });
    } catch (err) {
      // Stopped while still waiting for SQS or PostgreSQL: nothing was received, a clean stop.
      if (ctx.stop.aborted) {
        log.info({}, "stopped before start-up finished");
        return 0;
      }
      throw err;
    }
    log.info(
      {
        queue: queueUrl,
        dlq: app.dlqUrl,
        database: redactUrl(config.databaseUrl as string),
        httpPort: ops.port,
        pollers: config.pollers,
      },
      "login-etl running",
    );
    const summary = await app.pipeline.run(ctx.stop);
    log.info({ ...summary }, "stopped");
    return 0;
  } finally {
    await ops.close();
    await app?.close();
  }
}
