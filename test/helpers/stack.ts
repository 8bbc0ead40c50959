// Per-test-file isolation on the shared services: a schema of its own in
// PostgreSQL, queues of their own on the emulator, and helpers to look at both.
// The SQS helpers below also serve the fault campaigns (test/chaos/harness.ts).
import { randomBytes, randomUUID } from "node:crypto";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import pg from "pg";
import { inject } from "vitest";
import type { Env } from "../../src/config.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../src/local/embeddedSqs.ts";

export const TEST_MASTER_KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
export const TEST_KEYRING = JSON.stringify({
  primary: "k1",
  keys: [{ kid: "k1", key: TEST_MASTER_KEY.toString("base64") }],
});

// Dates as their text: a local-time Date would shift them.
pg.types.setTypeParser(1082, (v) => v);

export interface TestStack {
  readonly databaseUrl: string;
  readonly schema: string;
  readonly endpointUrl: string;
  readonly sqs: SQSClient;
  readonly db: pg.Pool;
  queueUrl: string;
  dlqUrl: string;
  /** The environment a login-etl command needs to use this stack. */
  env(extra?: Env): Env;
  query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  createQueue(name: string, attributes?: Record<string, string>): Promise<string>;
  /** Fresh source queue + DLQ (VisibilityTimeout in seconds); sets queueUrl and dlqUrl. */
  freshQueues(visibilityTimeoutSeconds?: number): Promise<void>;
  send(bodies: string[]): Promise<string[]>;
  receiveAll(queueUrl: string): Promise<Message[]>;
  counts(queueUrl: string): Promise<{ visible: number; inFlight: number }>;
  close(): Promise<void>;
}

/** A client of the local SQS emulator at `endpointUrl`. */
export function localSqsClient(endpointUrl: string): SQSClient {
  return new SQSClient({ region: LOCAL_REGION, endpoint: endpointUrl, credentials: LOCAL_CREDENTIALS });
}

/** Creates a queue named `name` plus a random suffix; its URL. */
export async function createQueue(
  sqs: SQSClient,
  name: string,
  attributes?: Record<string, string>,
): Promise<string> {
  const res = await sqs.send(
    new CreateQueueCommand({ QueueName: `${name}-${randomUUID().slice(0, 8)}`, Attributes: attributes }),
  );
  return res.QueueUrl as string;
}

/** One SendMessageBatch of up to ten bodies; the MessageId of each, in order. Throws unless SQS took them all. */
export async function sendBatch(
  sqs: SQSClient,
  queueUrl: string,
  bodies: readonly string[],
): Promise<string[]> {
  const res = await sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: queueUrl,
      Entries: bodies.map((body, i) => ({ Id: String(i), MessageBody: body })),
    }),
  );
  if (res.Failed?.length || res.Successful?.length !== bodies.length)
    throw new Error(`SendMessageBatch refused ${res.Failed?.length ?? "some"} entries`);
  const byId = new Map(res.Successful.map((s) => [s.Id, s.MessageId as string]));
  return bodies.map((_, i) => byId.get(String(i)) as string);
}

/** Every message on the queue, received until it answers empty twice, held invisible for `visibilityTimeoutSeconds`. */
export async function receiveAll(
  sqs: SQSClient,
  queueUrl: string,
  visibilityTimeoutSeconds: number,
): Promise<Message[]> {
  const out: Message[] = [];
  for (let empty = 0; empty < 2; ) {
    const res = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        VisibilityTimeout: visibilityTimeoutSeconds,
        MessageAttributeNames: ["All"],
      }),
    );
    const got = res.Messages ?? [];
    out.push(...got);
    empty = got.length ? 0 : empty + 1;
  }
  return out;
}

/** The queue's visible and in-flight (received, not yet deleted) message counts. */
export async function messageCounts(
  sqs: SQSClient,
  queueUrl: string,
): Promise<{ visible: number; inFlight: number }> {
  const { Attributes: a = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return {
    visible: Number(a.ApproximateNumberOfMessages),
    inFlight: Number(a.ApproximateNumberOfMessagesNotVisible),
  };
}

/** The environment a login-etl command needs to use these queues and this database (test keyring). */
export function serviceEnv(
  services: { queueUrl: string; dlqUrl: string; endpointUrl: string; databaseUrl: string },
  extra: Env,
): Env {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    SQS_QUEUE_URL: services.queueUrl,
    SQS_ENDPOINT_URL: services.endpointUrl,
    SQS_DLQ_URL: services.dlqUrl,
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    DATABASE_URL: services.databaseUrl,
    PII_KEYRING: TEST_KEYRING,
    ...extra,
  };
}

export async function testStack(label: string): Promise<TestStack> {
  const databaseUrl = inject("databaseUrl");
  const endpointUrl = inject("sqsEndpointUrl");
  const schema = `t_${label.replace(/\W/g, "_").toLowerCase()}_${randomBytes(3).toString("hex")}`;
  const db = new pg.Pool({ connectionString: databaseUrl, max: 3, options: `-c search_path=${schema}` });
  await db.query(`CREATE SCHEMA ${schema}`);
  const sqs = localSqsClient(endpointUrl);
  const stack: TestStack = {
    databaseUrl,
    schema,
    endpointUrl,
    sqs,
    db,
    queueUrl: "",
    dlqUrl: "",
    env(extra = {}) {
      return serviceEnv(stack, { LOGIN_ETL_DB_SCHEMA: schema, LOGIN_ETL_LOG_LEVEL: "error", ...extra });
    },
    async query(sql, params) {
      return (await db.query(sql, params)).rows;
    },
    createQueue: (name, attributes) => createQueue(sqs, name, attributes),
    async freshQueues(visibilityTimeoutSeconds = 30) {
      stack.dlqUrl = await createQueue(sqs, "dlq");
      stack.queueUrl = await createQueue(sqs, "src", { VisibilityTimeout: String(visibilityTimeoutSeconds) });
    },
    async send(bodies) {
      const ids: string[] = [];
      for (let i = 0; i < bodies.length; i += 10)
        ids.push(...(await sendBatch(sqs, stack.queueUrl, bodies.slice(i, i + 10))));
      return ids;
    },
    receiveAll: (queueUrl) => receiveAll(sqs, queueUrl, 300),
    counts: (queueUrl) => messageCounts(sqs, queueUrl),
    async close() {
      sqs.destroy();
      await db.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => {});
      await db.end();
    },
  };
  return stack;
}

export function loginEvent(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    user_id: randomUUID(),
    device_type: "android",
    ip: "199.172.111.135",
    device_id: "593-47-5928",
    locale: "RU",
    app_version: "2.3.0",
    ...overrides,
  });
}
