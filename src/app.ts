// Composition root: builds the SQS source, the dead-letter queue, the
// PostgreSQL sink and the transform from one Config, and hands back a
// pipeline ready to run. Commands (run, drain, demo) share this one path.
import type { Config } from "./config.ts";
import { EtlError, isEtlError } from "./errors.ts";
import type { Probe } from "./ops/httpServer.ts";
import type { Logger } from "./ops/logger.ts";
import type { Metrics } from "./ops/metrics.ts";
import { createProblems, type Problems } from "./ops/problems.ts";
import { backoffDelayMs, DEFAULT_BACKOFF, sleep } from "./pipeline/backoff.ts";
import type { Delivery, Outcome } from "./pipeline/contracts.ts";
import { createPipeline, type Pipeline } from "./pipeline/pipeline.ts";
import { hasIdempotencyIndex, IDEMPOTENCY_INDEX_PROBLEM, migrate } from "./postgres/migrations.ts";
import { createPool } from "./postgres/postgresPool.ts";
import { createPostgresSink } from "./postgres/postgresSink.ts";
import { sqsClientFor } from "./sqs/jsonClient.ts";
import { createSqsDeadLetterQueue } from "./sqs/sqsDeadLetterQueue.ts";
import { describeQueue, type QueueInfo } from "./sqs/sqsQueueInfo.ts";
import { createSqsSource } from "./sqs/sqsSource.ts";
import { createLoginTransform } from "./transform/transform.ts";
import { createSealer, reportSealerFallback } from "./vault/sealer.ts";
import { createVaultWriter } from "./vault/vaultWriter.ts";

export interface AppOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** drain: stop when the queue is empty. */
  readonly stopWhenEmpty: boolean;
  readonly waitTimeSeconds: number;
  /**
   * run: keep retrying start-up (queue attributes, migrations) while SQS or
   * PostgreSQL is unreachable, until this aborts; drain and tests: fail at once.
   */
  readonly waitForDependencies?: AbortSignal;
  /** Only the embedded stack passes these; elsewhere the AWS credential chain applies. */
  readonly sqsCredentials?: { accessKeyId: string; secretAccessKey: string };
}

export interface App {
  readonly pipeline: Pipeline;
  readonly queue: QueueInfo;
  readonly dlqUrl: string | null;
  /** Readiness checks of both ends, on connections of their own: never a writer's. */
  readonly probes: readonly Probe[];
  close(): Promise<void>;
}

export function createTransform(config: Config): (delivery: Delivery) => Outcome {
  if (!config.keyring) throw new EtlError("CONFIG_INVALID", "PII_KEYRING or PII_KEYRING_FILE: required");
  return createLoginTransform(config.keyring, config.vault !== null);
}

/** One start-up step; with waitForDependencies, retried with back-off while the failure is retryable. */
async function startupStep<T>(
  options: AppOptions,
  problems: Problems,
  step: string,
  fn: () => Promise<T>,
): Promise<T> {
  const wait = options.waitForDependencies;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!wait || wait.aborted || !isEtlError(err) || !err.retryable) throw err;
      const delayMs = backoffDelayMs(attempt, DEFAULT_BACKOFF);
      problems.report(
        err.stage,
        err.code,
        { step, retryInMs: delayMs, ...err.context },
        "dependency not ready; retrying start-up",
      );
      await sleep(delayMs, wait);
    }
  }
}

export async function createApp(options: AppOptions): Promise<App> {
  const { config, log, metrics } = options;
  const problems = createProblems(log, metrics);
  // A notice, not a failure: logged at every start, never counted in errors_total.
  for (const warning of config.warnings) problems.log("config", "CONFIG_WARNING", {}, warning);
  const queueUrl = config.queueUrl as string;
  // The lean client (src/sqs/): a third of the AWS SDK's CPU per message; the SDK's own
  // credential chain still supplies the keys (loaded only when no static keys are given).
  const sqs = sqsClientFor(config, {
    credentials: options.sqsCredentials,
    maxSockets: config.pollers + config.writers * 4 + 8,
  });
  const database = { databaseUrl: config.databaseUrl as string, schema: config.dbSchema };
  const pool = createPool({ ...database, poolSize: config.writers + 1 }, log);
  // Probes get a connection of their own, so a flood of them never queues behind (or
  // ahead of) a batch write.
  const probePool = createPool({ ...database, poolSize: 1 }, log);
  const source = createSqsSource(sqs, queueUrl);
  // §3b: with a recovery public key, each batch seals its new pseudonyms' values (fresh data key per start).
  const sink = createPostgresSink(
    pool,
    config.vault
      ? createVaultWriter(createSealer(config.vault, { onFallback: reportSealerFallback(problems) }))
      : undefined,
    probePool,
  );
  // Each end answers for its own health.
  const probes: Probe[] = [
    { name: "postgres", check: () => sink.healthcheck() },
    { name: "sqs", check: () => source.healthcheck() },
  ];
  const close = async () => {
    sqs.destroy();
    // A write abandoned at the shutdown deadline may still hold a client until its query
    // times out; the process is about to exit anyway, so do not wait for it.
    await Promise.race([Promise.all([pool.end(), probePool.end()]).catch(() => {}), sleep(1_000)]);
  };
  try {
    const queue = await startupStep(options, problems, "describe queue", () => describeQueue(sqs, queueUrl));
    if (queue.visibilityTimeoutSeconds === 0) {
      throw new EtlError(
        "CONFIG_INVALID",
        `SQS_QUEUE_URL: the queue's VisibilityTimeout is 0, so every message would be received again at once, over and over; expected a queue with a visibility timeout of at least 1 second (30 or more is usual)`,
        { retryable: false, context: { queue: queueUrl } },
      );
    }
    const applied = await startupStep(options, problems, "migrate", () => migrate(pool, config.dbSchema));
    if (applied.length) log.info({ versions: applied.map((m) => m.version) }, "migrations applied");
    if (!(await hasIdempotencyIndex(pool))) {
      throw new EtlError("DB_SCHEMA_MISMATCH", IDEMPOTENCY_INDEX_PROBLEM, { retryable: false });
    }
    const dlqUrl = config.dlqUrl ?? queue.redriveDlqUrl;
    if (!dlqUrl) {
      log.warn(
        { queue: queueUrl },
        "no dead-letter queue (SQS_DLQ_URL unset, no redrive policy): rejected messages stay on the queue",
      );
    }
    const pipeline = createPipeline(
      {
        source,
        sink,
        deadLetters: dlqUrl ? createSqsDeadLetterQueue(sqs, dlqUrl) : null,
        transform: createTransform(config),
        metrics,
        log,
      },
      {
        pollers: config.pollers,
        receiveMax: 10,
        waitTimeSeconds: options.waitTimeSeconds,
        batchSize: config.batchSize,
        flushIntervalMs: config.flushIntervalMs,
        maxInFlight: config.maxInFlight,
        maxInFlightBytes: config.maxInFlightBytes,
        writers: config.writers,
        stopWhenEmpty: options.stopWhenEmpty,
        shutdownTimeoutMs: config.shutdownTimeoutMs,
        backoff: DEFAULT_BACKOFF,
        visibilityTimeoutSeconds: queue.visibilityTimeoutSeconds,
        maxHoldSeconds: config.maxHoldSeconds,
      },
    );
    return { pipeline, queue, dlqUrl, probes, close };
  } catch (err) {
    await close();
    throw err;
  }
}
