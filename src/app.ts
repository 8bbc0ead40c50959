// Composition root: builds the SQS source, the dead-letter queue, the
// PostgreSQL sink and the transform from one Config, and hands back a
// pipeline ready to run. Commands (run, drain, demo) share this one path.
import type { SQSClient } from "@aws-sdk/client-sqs";
import type pg from "pg";
import type { Config } from "./config.ts";
import { EtlError } from "./errors.ts";
import type { Logger } from "./ops/logger.ts";
import type { Metrics } from "./ops/metrics.ts";
import { DEFAULT_BACKOFF } from "./pipeline/backoff.ts";
import type { Delivery, Outcome } from "./pipeline/contracts.ts";
import { createPipeline, type Pipeline } from "./pipeline/pipeline.ts";
import { migrate } from "./sinks/migrations.ts";
import { createPool, pgError } from "./sinks/postgresPool.ts";
import { createPostgresSink } from "./sinks/postgresSink.ts";
import { createSqsClient } from "./sources/sqsClient.ts";
import { createSqsDeadLetterQueue } from "./sources/sqsDeadLetterQueue.ts";
import { describeQueue, type QueueInfo } from "./sources/sqsQueueInfo.ts";
import { createSqsSource } from "./sources/sqsSource.ts";
import { decodeLoginEvent } from "./transform/loginEvent.ts";
import { createMasker } from "./transform/mask.ts";
import { toRow } from "./transform/toRow.ts";

export interface AppOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** drain: stop when the queue is empty. */
  readonly stopWhenEmpty: boolean;
  readonly waitTimeSeconds: number;
  /** Only the embedded stack passes these; elsewhere the AWS credential chain applies. */
  readonly sqsCredentials?: { accessKeyId: string; secretAccessKey: string };
}

export interface App {
  readonly pipeline: Pipeline;
  readonly queue: QueueInfo;
  readonly dlqUrl: string | null;
  readonly pool: pg.Pool;
  readonly sqs: SQSClient;
  close(): Promise<void>;
}

export function createTransform(config: Config): (delivery: Delivery) => Outcome {
  if (!config.keyring) throw new EtlError("KEYRING_INVALID", "no keyring configured");
  const masker = createMasker(config.keyring);
  return (delivery) => {
    const decoded = decodeLoginEvent(delivery.body);
    if ("rejection" in decoded) return decoded;
    return { row: toRow(decoded.event, delivery.messageId, delivery.sentAtMs, masker) };
  };
}

export async function createApp(options: AppOptions): Promise<App> {
  const { config, log, metrics } = options;
  const queueUrl = config.queueUrl as string;
  const sqs = createSqsClient({
    region: config.region,
    endpointUrl: config.endpointUrl,
    maxSockets: config.pollers + config.writers * 4 + 8,
    ...(options.sqsCredentials ? { credentials: options.sqsCredentials } : {}),
  });
  const pool = createPool(
    { databaseUrl: config.databaseUrl as string, schema: config.dbSchema, poolSize: config.writers + 1 },
    log,
  );
  const close = async () => {
    sqs.destroy();
    await pool.end().catch(() => {});
  };
  try {
    const queue = await describeQueue(sqs, queueUrl);
    try {
      const applied = await migrate(pool, config.dbSchema);
      if (applied.length) log.info({ versions: applied.map((m) => m.version) }, "migrations applied");
    } catch (err) {
      throw pgError(err, "migrate");
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
        source: createSqsSource(sqs, queueUrl),
        sink: createPostgresSink(pool),
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
        writers: config.writers,
        stopWhenEmpty: options.stopWhenEmpty,
        shutdownTimeoutMs: config.shutdownTimeoutMs,
        backoff: DEFAULT_BACKOFF,
        visibilityTimeoutSeconds: queue.visibilityTimeoutSeconds,
        maxHoldSeconds: config.maxHoldSeconds,
      },
    );
    return { pipeline, queue, dlqUrl, pool, sqs, close };
  } catch (err) {
    await close();
    throw err;
  }
}
