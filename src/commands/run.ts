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
import type { CommandContext } from "./context.ts";

const RUN_WAIT_SECONDS = 20;
const STARTING = {
  name: "start-up",
  check: () => Promise.reject(Object.assign(new Error("starting"), { code: "starting" })),
};

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
  const waitTimeSeconds = config.waitTimeSeconds ?? RUN_WAIT_SECONDS;
  // A receive answers within its long poll (or fails at its request timeout); a loop that has
  // completed no receive, write or delete for far longer than that is stuck, and a restart helps.
  const stallMs = (config.stallSeconds ?? 3 * waitTimeSeconds + 30) * 1000;
  let running = false;
  const ops = await startOpsServer({
    host: config.httpHost,
    port: config.httpPort,
    registry: metrics.registry,
    probes: () => app?.probes ?? [STARTING],
    liveness: () => {
      // While start-up waits for its dependencies there is no loop yet: alive, not ready.
      const last = running ? app?.pipeline.lastProgressAtMs() : undefined;
      if (last === undefined || Date.now() - last <= stallMs) return null;
      return `no receive, write or delete completed for ${Math.round((Date.now() - last) / 1000)} s`;
    },
    onReadiness: (ready) => metrics.ready.set(ready ? 1 : 0),
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
        waitTimeSeconds,
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
    running = true;
    const summary = await app.pipeline.run(ctx.stop);
    log.info({ ...summary }, "stopped");
    return 0;
  } finally {
    await ops.close();
    await app?.close();
  }
}
