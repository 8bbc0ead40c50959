// Delivery guarantees (DESIGN.md §5) against a real PostgreSQL and a real SQS
// emulator: delete only after commit, one row per MessageId, rejections to the
// dead-letter queue with a reason.

import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTransform } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/ops/logger.ts";
import { migrate } from "../../src/postgres/migrations.ts";
import { createPool } from "../../src/postgres/postgresPool.ts";
import { createPostgresSink } from "../../src/postgres/postgresSink.ts";
import { eventually, startApp } from "../helpers/app.ts";
import { loginEvent, type TestStack, testStack } from "../helpers/stack.ts";

let stack: TestStack;
const rowCount = async () =>
  Number((await stack.query<{ n: string }>("SELECT count(*) AS n FROM user_logins"))[0]?.n);

beforeAll(async () => {
  stack = await testStack("delivery");
});
afterAll(async () => {
  await stack.close();
});
beforeEach(async () => {
  await stack.freshQueues();
  await stack.query("DROP TABLE IF EXISTS user_logins, login_etl_schema_migrations");
});

describe("drain through the real pipeline", () => {
  it("stores every valid message once and deletes it from the queue", async () => {
    const ids = await stack.send(
      Array.from({ length: 25 }, (_, i) => loginEvent({ locale: i % 3 ? "DE" : null })),
    );
    const app = await startApp(stack);
    const summary = await app.pipeline.run(new AbortController().signal);
    await app.close();
    expect(summary).toMatchObject({ received: 25, inserted: 25, duplicates: 0, rejected: 0 });
    const rows = await stack.query<{ message_id: string }>("SELECT message_id FROM user_logins");
    expect(rows.map((r) => r.message_id).sort()).toEqual([...ids].sort());
    expect(await stack.counts(stack.queueUrl)).toEqual({ visible: 0, inFlight: 0 });
  });

  it("does not delete the messages while the insert fails, and writes them once it succeeds", async () => {
    await stack.send(Array.from({ length: 12 }, () => loginEvent()));
    const app = await startApp(stack);
    // The table disappears under the running pipeline: every write fails until it is back.
    await stack.query("ALTER TABLE user_logins RENAME TO user_logins_away");
    const stop = new AbortController();
    const running = app.pipeline.run(stop.signal);
    await eventually(
      async () => Number((await app.metrics.errors.get()).values.reduce((n, v) => n + v.value, 0)),
      (failures) => failures >= 2,
    );
    expect(await stack.counts(stack.queueUrl)).toEqual({ visible: 0, inFlight: 12 });
    expect(
      Number((await stack.query<{ n: string }>("SELECT count(*) AS n FROM user_logins_away"))[0]?.n),
    ).toBe(0);
    await stack.query("ALTER TABLE user_logins_away RENAME TO user_logins");
    const summary = await running;
    await app.close();
    expect(summary).toMatchObject({ received: 12, inserted: 12, duplicates: 0 });
    expect(await rowCount()).toBe(12);
    expect(await stack.counts(stack.queueUrl)).toEqual({ visible: 0, inFlight: 0 });
  });

  it("does not create a second row when a committed message is delivered again", async () => {
    // A previous consumer committed these rows and died before deleting the messages.
    await stack.freshQueues(1);
    await stack.send(Array.from({ length: 8 }, () => loginEvent()));
    const received = await stack.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: stack.queueUrl,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ["SentTimestamp"],
      }),
    );
    const receivedAtMs = Date.now();
    const messages = received.Messages ?? [];
    expect(messages).toHaveLength(8);
    const config = loadConfig(stack.env(), {}, new Set(["database", "keyring"]));
    const pool = createPool(
      { databaseUrl: stack.databaseUrl, schema: stack.schema, poolSize: 1 },
      createLogger("silent"),
    );
    await migrate(pool, stack.schema);
    const transform = createTransform(config);
    const rows = messages.map((m) => {
      const outcome = transform({
        messageId: m.MessageId as string,
        body: m.Body as string,
        bytes: (m.Body as string).length,
        sentAtMs: Number(m.Attributes?.SentTimestamp),
        receiveCount: 1,
        receivedAtMs: Date.now(),
        handle: m.ReceiptHandle as string,
      });
      if (!("row" in outcome)) throw new Error("expected a row");
      return outcome.row;
    });
    expect(await createPostgresSink(pool).write(rows)).toEqual({ inserted: 8, duplicates: 0 });
    await pool.end();

    // After the visibility timeout the messages come back; the pipeline must not add rows.
    // The emulator updates its counts lazily, so wait out the visibility timeout itself.
    await new Promise((r) => setTimeout(r, Math.max(0, receivedAtMs + 1_200 - Date.now())));
    const app = await startApp(stack);
    const summary = await app.pipeline.run(new AbortController().signal);
    await app.close();
    expect(summary).toMatchObject({ received: 8, inserted: 0, duplicates: 8 });
    expect(await rowCount()).toBe(8);
    expect(await stack.counts(stack.queueUrl)).toEqual({ visible: 0, inFlight: 0 });
  });

  it("keeps one row per MessageId when the same message is delivered twice at once", async () => {
    // Visibility 1 s and a write blocked for longer: the messages are redelivered while the first batch waits.
    await stack.freshQueues(1);
    const ids = await stack.send(Array.from({ length: 6 }, () => loginEvent()));
    const app = await startApp(stack, {
      env: { LOGIN_ETL_MAX_HOLD_SECONDS: "1", LOGIN_ETL_FLUSH_INTERVAL_MS: "50" },
    });
    const locker = await stack.db.connect();
    await locker.query("BEGIN");
    await locker.query("LOCK TABLE user_logins IN ACCESS EXCLUSIVE MODE");
    const running = app.pipeline.run(new AbortController().signal);
    await eventually(
      async () => app.pipeline.summary.received,
      (n) => n >= 12,
      30_000,
    );
    await locker.query("COMMIT");
    locker.release();
    const summary = await running;
    await app.close();
    expect(summary.inserted).toBe(6);
    expect(summary.duplicates).toBe(summary.received - 6);
    const rows = await stack.query<{ message_id: string }>("SELECT message_id FROM user_logins");
    expect(rows.map((r) => r.message_id).sort()).toEqual([...ids].sort());
  });
});

describe("rejected messages", () => {
  const bad = [
    ["not json", "invalid_json"],
    ["[1,2]", "not_an_object"],
    ['{"foo": "oops_wrong_msg_type", "bar": "123"}', "missing_field"],
    [loginEvent({ ip: "10.0.0.256" }), "invalid_ip"],
    [loginEvent({ app_version: "v1" }), "invalid_field"],
    [`{"pad": "${"x".repeat(17_000)}"}`, "body_too_large"],
  ] as const;

  it("go to the dead-letter queue with their reason code, byte for byte, and leave the source queue", async () => {
    await stack.send([...bad.map(([body]) => body), loginEvent()]);
    const app = await startApp(stack);
    const summary = await app.pipeline.run(new AbortController().signal);
    await app.close();
    expect(summary).toMatchObject({ received: 7, inserted: 1, rejected: 6, left_on_queue: 0 });
    const dead = await stack.receiveAll(stack.dlqUrl);
    const byBody = new Map(dead.map((m) => [m.Body, m.MessageAttributes]));
    for (const [body, code] of bad) {
      expect(byBody.get(body)?.error_code?.StringValue).toBe(code);
      expect(byBody.get(body)?.error_detail?.StringValue).toBeTruthy();
    }
    expect(await stack.counts(stack.queueUrl)).toEqual({ visible: 0, inFlight: 0 });
  });

  it("go to the redrive policy's dead-letter queue when SQS_DLQ_URL is not set", async () => {
    const dlqUrl = await stack.createQueue("redrive-dlq");
    const arn = `arn:aws:sqs:us-east-1:000000000000:${dlqUrl.split("/").pop()}`;
    stack.queueUrl = await stack.createQueue("redrive-src", {
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: 5 }),
    });
    await stack.send(["not json"]);
    const app = await startApp(stack, { env: { SQS_DLQ_URL: "" } });
    const summary = await app.pipeline.run(new AbortController().signal);
    await app.close();
    expect(summary).toMatchObject({ rejected: 1, left_on_queue: 0 });
    expect((await stack.receiveAll(dlqUrl)).map((m) => m.Body)).toEqual(["not json"]);
  });

  it("stay on the source queue, logged and counted, when the dead-letter queue refuses them, without stalling the rest", async () => {
    stack.dlqUrl = await stack.createQueue("small-dlq", { MaximumMessageSize: "1024" });
    await stack.send([`not json ${"x".repeat(2_000)}`, ...Array.from({ length: 20 }, () => loginEvent())]);
    const app = await startApp(stack);
    const summary = await app.pipeline.run(new AbortController().signal);
    await app.close();
    expect(summary).toMatchObject({ received: 21, inserted: 20, rejected: 0, left_on_queue: 1 });
    expect(await stack.counts(stack.queueUrl)).toEqual({ visible: 0, inFlight: 1 });
    const errors = (await app.metrics.errors.get()).values.find((v) => v.labels.code === "DLQ_SEND_FAILED");
    expect(errors?.value).toBe(1);
  });

  it("stay on the queue, counted and never deleted, when there is no dead-letter queue", async () => {
    stack.queueUrl = await stack.createQueue("nodlq-src", { VisibilityTimeout: "30" });
    await stack.send(["not json", loginEvent()]);
    const app = await startApp(stack, { env: { SQS_DLQ_URL: "" } });
    const summary = await app.pipeline.run(new AbortController().signal);
    await app.close();
    expect(summary).toMatchObject({
      received: 2,
      inserted: 1,
      rejected: 0,
      left_on_queue: 1,
    });
    expect(await stack.counts(stack.queueUrl)).toEqual({ visible: 0, inFlight: 1 });
  });
});
