// Per-test-file isolation on the shared services: a schema of its own in
// PostgreSQL, queues of their own on the emulator, and helpers to look at both.
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

export async function testStack(label: string): Promise<TestStack> {
  const databaseUrl = inject("databaseUrl");
  const endpointUrl = inject("sqsEndpointUrl");
  const schema = `t_${label.replace(/\W/g, "_").toLowerCase()}_${randomBytes(3).toString("hex")}`;
  const db = new pg.Pool({ connectionString: databaseUrl, max: 3, options: `-c search_path=${schema}` });
  await db.query(`CREATE SCHEMA ${schema}`);
  const sqs = new SQSClient({ region: LOCAL_REGION, endpoint: endpointUrl, credentials: LOCAL_CREDENTIALS });
  const createQueue = async (name: string, attributes?: Record<string, string>) =>
    (
      await sqs.send(
        new CreateQueueCommand({ QueueName: `${name}-${randomUUID().slice(0, 8)}`, Attributes: attributes }),
      )
    ).QueueUrl as string;
  const stack: TestStack = {
    databaseUrl,
    schema,
    endpointUrl,
    sqs,
    db,
    queueUrl: "",
    dlqUrl: "",
    env(extra = {}) {
      return {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        SQS_QUEUE_URL: stack.queueUrl,
        SQS_ENDPOINT_URL: endpointUrl,
        SQS_DLQ_URL: stack.dlqUrl,
        AWS_REGION: LOCAL_REGION,
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        DATABASE_URL: databaseUrl,
        LOGIN_ETL_DB_SCHEMA: schema,
        PII_KEYRING: TEST_KEYRING,
        LOGIN_ETL_LOG_LEVEL: "error",
        ...extra,
      };
    },
    async query(sql, params) {
      return (await db.query(sql, params)).rows;
    },
    createQueue,
    async freshQueues(visibilityTimeoutSeconds = 30) {
      stack.dlqUrl = await createQueue("dlq");
      stack.queueUrl = await createQueue("src", { VisibilityTimeout: String(visibilityTimeoutSeconds) });
    },
    async send(bodies) {
      const ids: string[] = [];
      for (let i = 0; i < bodies.length; i += 10) {
        const batch = bodies.slice(i, i + 10);
        const res = await sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: stack.queueUrl,
            Entries: batch.map((b, j) => ({ Id: String(j), MessageBody: b })),
          }),
        );
        if (res.Failed?.length) throw new Error("send failed");
        const byId = new Map((res.Successful ?? []).map((s) => [s.Id, s.MessageId as string]));
        for (let j = 0; j < batch.length; j++) ids.push(byId.get(String(j)) as string);
      }
      return ids;
    },
    async receiveAll(queueUrl) {
      const out: Message[] = [];
      for (let empty = 0; empty < 2; ) {
        const res = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 0,
            VisibilityTimeout: 300,
            MessageAttributeNames: ["All"],
          }),
        );
        const got = res.Messages ?? [];
        out.push(...got);
        empty = got.length ? 0 : empty + 1;
      }
      return out;
    },
    async counts(queueUrl) {
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
    },
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
