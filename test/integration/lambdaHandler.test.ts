// The Lambda handler invoked with real SQS events (received from the emulator,
// shaped as an event source mapping delivers them) against the embedded
// PostgreSQL, settled afterwards the way Lambda settles them.
import { randomBytes } from "node:crypto";
import type { SQSEvent } from "aws-lambda";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Env } from "../../src/config.ts";
import { createHandler, type Handler } from "../../src/lambda/handler.ts";
import { LOCAL_CREDENTIALS } from "../../src/local/embeddedSqs.ts";
import { migrate } from "../../src/postgres/migrations.ts";
import { eventually } from "../helpers/app.ts";
import { receiveEvent, settleLikeLambda } from "../helpers/lambdaEvent.ts";
import { loginEvent, type TestStack, testStack } from "../helpers/stack.ts";

let stack: TestStack;
let handler: Handler;
const extraHandlers: Handler[] = [];
// A name of its own, so the test can find the handler's connection among everyone's.
const applicationName = `lambda-test-${randomBytes(4).toString("hex")}`;

function handlerEnv(extra: Env = {}): Env {
  return stack.env({ DATABASE_URL: `${stack.databaseUrl}?application_name=${applicationName}`, ...extra });
}

const rowIds = async () =>
  (await stack.query<{ message_id: string }>("SELECT message_id FROM user_logins ORDER BY message_id")).map(
    (r) => r.message_id,
  );
const failedIds = (res: { batchItemFailures: { itemIdentifier: string }[] }) =>
  res.batchItemFailures.map((f) => f.itemIdentifier).sort();
const idsOf = (event: SQSEvent, bodies: (b: string) => boolean) =>
  event.Records.filter((r) => bodies(r.body))
    .map((r) => r.messageId)
    .sort();
/** loginEvent() bodies carry every field; the malformed ones here never carry device_id. */
const isValid = (body: string) => body.includes("device_id");

beforeAll(async () => {
  stack = await testStack("lambda");
  await migrate(stack.db, stack.schema);
});
afterAll(async () => {
  await stack.close();
});
beforeEach(async () => {
  await stack.freshQueues();
  await stack.query("TRUNCATE user_logins");
  handler = createHandler({ env: handlerEnv(), sqsCredentials: LOCAL_CREDENTIALS });
});
afterEach(async () => {
  await handler.close();
  for (const h of extraHandlers.splice(0)) await h.close();
});

describe("Lambda handler", () => {
  it("loads valid records, dead-letters rejected ones with their reason code, and deletes nothing itself", async () => {
    await stack.send([
      loginEvent(),
      loginEvent(),
      loginEvent(),
      "not json",
      JSON.stringify({ user_id: "u" }),
    ]);
    const event = await receiveEvent(stack.sqs, stack.queueUrl, 5);
    const res = await handler(event);
    expect(res.batchItemFailures).toEqual([]);
    expect(await rowIds()).toEqual(idsOf(event, isValid));
    // All five are still in flight on the source queue: only Lambda deletes.
    expect(await stack.counts(stack.queueUrl)).toEqual({ visible: 0, inFlight: 5 });
    const dead = await stack.receiveAll(stack.dlqUrl);
    const reasons = dead.map((m) => m.MessageAttributes?.error_code?.StringValue).sort();
    expect(reasons).toEqual(["invalid_json", "missing_field"]);
    expect(dead.map((m) => m.MessageAttributes?.source_message_id?.StringValue).sort()).toEqual(
      idsOf(event, (b) => !isValid(b)),
    );
    await settleLikeLambda(stack.sqs, stack.queueUrl, event, res);
    expect(await stack.counts(stack.queueUrl)).toEqual({ visible: 0, inFlight: 0 });
  });

  it("reports the valid records as failures when the database fails mid-batch, then loads them once on redelivery", async () => {
    await stack.send([loginEvent(), loginEvent(), loginEvent(), loginEvent(), "not json"]);
    const event = await receiveEvent(stack.sqs, stack.queueUrl, 5);
    const valid = idsOf(event, isValid);

    // Hold the table so the batch write waits, then kill its connection under it.
    const locker = await stack.db.connect();
    try {
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE user_logins IN ACCESS EXCLUSIVE MODE");
      const lockerPid = (await locker.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid;
      const pending = handler(event);
      const [writer] = await eventually(
        () =>
          stack.query<{ pid: number }>(
            "SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
            [lockerPid],
          ),
        (rows) => rows.length === 1,
      );
      await stack.query("SELECT pg_terminate_backend($1)", [writer?.pid]);
      await locker.query("ROLLBACK");
      const failed = await pending;
      expect(failedIds(failed)).toEqual(valid);
      expect(await rowIds()).toEqual([]);
      // The rejected one was dead-lettered all the same, and is not reported.
      expect(await stack.receiveAll(stack.dlqUrl)).toHaveLength(1);
      await settleLikeLambda(stack.sqs, stack.queueUrl, event, failed);
    } finally {
      locker.release();
    }

    const redelivered = await receiveEvent(stack.sqs, stack.queueUrl, valid.length);
    expect(redelivered.Records.every((r) => Number(r.attributes.ApproximateReceiveCount) === 2)).toBe(true);
    const loaded = await handler(redelivered);
    expect(loaded.batchItemFailures).toEqual([]);
    expect(await rowIds()).toEqual(valid);

    // The same batch once more (as after a crash before Lambda deleted it): no second row.
    const again = await handler(redelivered);
    expect(again.batchItemFailures).toEqual([]);
    expect(await rowIds()).toEqual(valid);
  });

  it("reuses one database connection across invocations", async () => {
    const backends = () =>
      stack.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1", [
        applicationName,
      ]);
    const seen: number[][] = [];
    for (let i = 0; i < 3; i++) {
      await stack.send([loginEvent()]);
      const event = await receiveEvent(stack.sqs, stack.queueUrl, 1);
      expect((await handler(event)).batchItemFailures).toEqual([]);
      seen.push((await backends()).map((b) => b.pid));
    }
    expect(seen[0]).toHaveLength(1);
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[2]).toEqual(seen[0]);
  });

  it("reports rejected records as failures when no dead-letter queue is set, for the queue's redrive policy", async () => {
    const noDlq = createHandler({ env: handlerEnv({ SQS_DLQ_URL: "" }), sqsCredentials: LOCAL_CREDENTIALS });
    extraHandlers.push(noDlq);
    await stack.send([loginEvent(), "[]"]);
    const event = await receiveEvent(stack.sqs, stack.queueUrl, 2);
    const res = await noDlq(event);
    expect(failedIds(res)).toEqual(idsOf(event, (b) => b === "[]"));
    expect(await rowIds()).toEqual(idsOf(event, isValid));
    expect(await stack.receiveAll(stack.dlqUrl)).toEqual([]);
  });

  it("runs no migrations: it refuses a database without the idempotency index and creates nothing", async () => {
    const empty = `${stack.schema}_empty`;
    await stack.query(`CREATE SCHEMA ${empty}`);
    try {
      const unmigrated = createHandler({
        env: handlerEnv({ LOGIN_ETL_DB_SCHEMA: empty }),
        sqsCredentials: LOCAL_CREDENTIALS,
      });
      extraHandlers.push(unmigrated);
      await stack.send([loginEvent()]);
      const event = await receiveEvent(stack.sqs, stack.queueUrl, 1);
      await expect(unmigrated(event)).rejects.toMatchObject({ code: "DB_SCHEMA_MISMATCH" });
      const tables = await stack.query("SELECT 1 FROM pg_tables WHERE schemaname = $1", [empty]);
      expect(tables).toEqual([]);
    } finally {
      await stack.query(`DROP SCHEMA ${empty} CASCADE`);
    }
  });
});
