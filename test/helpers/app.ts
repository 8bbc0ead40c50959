// Running the real pipeline in-process against the test stack, and waiting for
// outcomes instead of sleeping.
import { type App, createApp } from "../../src/app.ts";
import { type Env, loadConfig } from "../../src/config.ts";
import { LOCAL_CREDENTIALS } from "../../src/local/embeddedSqs.ts";
import { createLogger } from "../../src/ops/logger.ts";
import { createMetrics, type Metrics } from "../../src/ops/metrics.ts";
import type { TestStack } from "./stack.ts";

export async function startApp(
  stack: TestStack,
  options: { env?: Env; stopWhenEmpty?: boolean; waitTimeSeconds?: number } = {},
): Promise<App & { metrics: Metrics }> {
  const config = loadConfig(stack.env(options.env), {}, new Set(["queue", "database", "keyring"]));
  const metrics = createMetrics();
  const app = await createApp({
    config,
    log: createLogger(config.logLevel),
    metrics,
    stopWhenEmpty: options.stopWhenEmpty ?? true,
    waitTimeSeconds: options.waitTimeSeconds ?? 1,
    sqsCredentials: LOCAL_CREDENTIALS,
  });
  return Object.assign(app, { metrics });
}

export async function eventually<T>(
  probe: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms; last value ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
