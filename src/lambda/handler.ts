// AWS Lambda entry for an SQS event source mapping with
// ReportBatchItemFailures. Configuration, the PostgreSQL pool and the SQS
// client are made on the first invocation and reused by the next ones in the
// same execution environment. Migrations are not run here (run
// `login-etl migrate` when deploying); a missing idempotency index stops the
// function before it writes anything.
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import type pg from "pg";
import { createTransform } from "../app.ts";
import { type Env, loadConfig, type SettingName } from "../config.ts";
import { EtlError } from "../errors.ts";
import { createLogger, type Logger } from "../ops/logger.ts";
import { hasIdempotencyIndex, IDEMPOTENCY_INDEX_PROBLEM } from "../postgres/migrations.ts";
import { createPool } from "../postgres/postgresPool.ts";
import { createPostgresSink } from "../postgres/postgresSink.ts";
import { sqsClientFor } from "../sqs/jsonClient.ts";
import { createSqsDeadLetterQueue } from "../sqs/sqsDeadLetterQueue.ts";
import { processRecords, type RecordDeps } from "./processRecords.ts";

/** The settings the function reads: no queue URL (events come from the mapping), no tuning. */
export const LAMBDA_SETTINGS: readonly SettingName[] = [
  "endpointUrl",
  "region",
  "dlqUrl",
  "databaseUrl",
  "dbSchema",
  "logLevel",
];

interface Resources extends RecordDeps {
  readonly pool: pg.Pool;
  readonly log: Logger;
  close(): Promise<void>;
}

export interface HandlerOptions {
  readonly env?: Env;
  /** Only the embedded stack passes these; in Lambda the execution role's credentials apply. */
  readonly sqsCredentials?: { accessKeyId: string; secretAccessKey: string };
}

async function open(options: HandlerOptions): Promise<Resources> {
  const config = loadConfig(
    options.env ?? process.env,
    {},
    new Set(["database", "keyring"]),
    LAMBDA_SETTINGS,
  );
  const log = createLogger(config.logLevel);
  // One connection per execution environment: Lambda runs one invocation at a time in each.
  const pool = createPool(
    { databaseUrl: config.databaseUrl as string, schema: config.dbSchema, poolSize: 1 },
    log,
  );
  const sqs = sqsClientFor(config, { credentials: options.sqsCredentials, maxSockets: 4 });
  const close = async () => {
    sqs.destroy();
    await pool.end().catch(() => {});
  };
  try {
    if (!(await hasIdempotencyIndex(pool))) {
      throw new EtlError("DB_SCHEMA_MISMATCH", IDEMPOTENCY_INDEX_PROBLEM, { retryable: false });
    }
  } catch (err) {
    await close();
    throw err;
  }
  if (!config.dlqUrl)
    log.warn(
      {},
      "SQS_DLQ_URL unset: rejected messages are reported as failures, for the queue's redrive policy",
    );
  return {
    transform: createTransform(config),
    sink: createPostgresSink(pool),
    deadLetters: config.dlqUrl ? createSqsDeadLetterQueue(sqs, config.dlqUrl) : null,
    log,
    pool,
    close,
  };
}

export interface Handler {
  (event: SQSEvent): Promise<SQSBatchResponse>;
  /** Closes the pool and the client (tests; Lambda just freezes the environment). */
  close(): Promise<void>;
}

export function createHandler(options: HandlerOptions = {}): Handler {
  let resources: Promise<Resources> | null = null;
  const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
    // A failed start (database unreachable) is tried again by the next invocation.
    resources ??= open(options).catch((err) => {
      resources = null;
      throw err;
    });
    const deps = await resources;
    const { batchItemFailures, summary } = await processRecords(event.Records, deps);
    deps.log.debug({ ...summary }, "batch done");
    return { batchItemFailures };
  };
  return Object.assign(handler, {
    async close() {
      const r = await resources?.catch(() => null);
      resources = null;
      await r?.close();
    },
  });
}

/** The function's handler (`index.handler` in the package built by `npm run package:lambda`). */
export const handler = createHandler();
