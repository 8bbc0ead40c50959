// processRecords (the Lambda handler's core) with fakes of our own Sink and
// DeadLetterQueue contracts: what is reported back to Lambda, and what is
// dead-lettered, for each way a record can end.
import type { SQSRecord } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { createTransform } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import { EtlError } from "../../src/errors.ts";
import { processRecords } from "../../src/lambda/processRecords.ts";
import { createLogger } from "../../src/ops/logger.ts";
import type { DeadLetter, DeadLetterQueue, Sink } from "../../src/pipeline/contracts.ts";
import type { LoginRow } from "../../src/transform/toRow.ts";
import { VALID_EVENT, VECTOR_KEYRING_JSON } from "./fixtures.ts";

const transform = createTransform(
  loadConfig({ PII_KEYRING: VECTOR_KEYRING_JSON }, {}, new Set(["keyring"]), []),
);
const log = createLogger("silent");

function record(messageId: string, body: string): SQSRecord {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: "1",
      SentTimestamp: "1715904000000",
      SenderId: "000000000000",
      ApproximateFirstReceiveTimestamp: "1715904000001",
    },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:logins",
    awsRegion: "us-east-1",
  };
}
const valid = (id: string) => record(id, JSON.stringify(VALID_EVENT));

/** A sink that stores rows and refuses (as PostgreSQL would, SQLSTATE 22/23) any batch holding `refuse`. */
function fakeSink(options: { refuse?: string; down?: boolean } = {}) {
  const stored = new Map<string, LoginRow>();
  const sink: Sink = {
    healthcheck: async () => {},
    async write(rows) {
      if (options.down) throw new EtlError("DB_UNREACHABLE", "cannot reach PostgreSQL");
      if (rows.some((r) => r.message_id === options.refuse))
        throw new EtlError("DB_ROW_REFUSED", "PostgreSQL refused a value", { retryable: false });
      let inserted = 0;
      for (const r of rows) {
        if (stored.has(r.message_id)) continue;
        stored.set(r.message_id, r);
        inserted++;
      }
      return { inserted, duplicates: rows.length - inserted };
    },
  };
  return { sink, stored };
}

function fakeDlq(options: { refuse?: string; down?: boolean } = {}) {
  const accepted: DeadLetter[] = [];
  const dlq: DeadLetterQueue = {
    async send(letters) {
      // As the SQS adapter does: a request that failed as a whole refuses each of its letters.
      if (options.down)
        return letters.map((letter) => ({
          letter,
          permanent: false,
          code: "SQS_UNREACHABLE",
          requestFailed: true,
        }));
      const refused = letters.filter((l) => l.delivery.messageId === options.refuse);
      accepted.push(...letters.filter((l) => !refused.includes(l)));
      return refused.map((letter) => ({
        letter,
        permanent: false,
        code: "InternalError",
        requestFailed: false,
      }));
    },
  };
  return { dlq, accepted };
}

const failures = (res: { batchItemFailures: { itemIdentifier: string }[] }) =>
  res.batchItemFailures.map((f) => f.itemIdentifier).sort();

describe("processRecords", () => {
  it("writes valid records, dead-letters rejected ones with their reason, and reports none", async () => {
    const { sink, stored } = fakeSink();
    const { dlq, accepted } = fakeDlq();
    const res = await processRecords([valid("a"), record("b", "nope"), valid("c")], {
      transform,
      sink,
      deadLetters: dlq,
      log,
    });
    expect(failures(res)).toEqual([]);
    expect([...stored.keys()].sort()).toEqual(["a", "c"]);
    expect(accepted.map((l) => [l.delivery.messageId, l.rejection.code])).toEqual([["b", "invalid_json"]]);
    expect(res.summary).toEqual({ records: 3, inserted: 2, duplicates: 0, rejected: 1, failed: 0 });
  });

  it("dead-letters a row the database refuses, alone, and commits the rest of its batch", async () => {
    const { sink, stored } = fakeSink({ refuse: "c" });
    const { dlq, accepted } = fakeDlq();
    const res = await processRecords(["a", "b", "c", "d", "e"].map(valid), {
      transform,
      sink,
      deadLetters: dlq,
      log,
    });
    expect(failures(res)).toEqual([]);
    expect([...stored.keys()].sort()).toEqual(["a", "b", "d", "e"]);
    expect(accepted.map((l) => [l.delivery.messageId, l.rejection.code])).toEqual([["c", "invalid_field"]]);
  });

  it("reports every row of a failed write, and counts a repeated message once", async () => {
    const { sink } = fakeSink({ down: true });
    const { dlq, accepted } = fakeDlq();
    const res = await processRecords([valid("a"), valid("a"), valid("b"), record("x", "[]")], {
      transform,
      sink,
      deadLetters: dlq,
      log,
    });
    expect(failures(res)).toEqual(["a", "b"]);
    expect(res.summary.failed).toBe(3);
    expect(accepted).toHaveLength(1);
  });

  it("reports rejected records the dead-letter queue refused or could not take", async () => {
    const refusing = fakeDlq({ refuse: "y" });
    const res = await processRecords([record("x", "[]"), record("y", "1")], {
      transform,
      sink: fakeSink().sink,
      deadLetters: refusing.dlq,
      log,
    });
    expect(failures(res)).toEqual(["y"]);
    const down = await processRecords([record("x", "[]"), valid("v")], {
      transform,
      sink: fakeSink().sink,
      deadLetters: fakeDlq({ down: true }).dlq,
      log,
    });
    expect(failures(down)).toEqual(["x"]);
  });

  it("reports a record whose transform throws (a bug), without stopping the others", async () => {
    const { sink, stored } = fakeSink();
    const throwing: typeof transform = (d) => {
      if (d.messageId === "boom") throw new Error("bug");
      return transform(d);
    };
    const res = await processRecords([valid("a"), valid("boom")], {
      transform: throwing,
      sink,
      deadLetters: fakeDlq().dlq,
      log,
    });
    expect(failures(res)).toEqual(["boom"]);
    expect([...stored.keys()]).toEqual(["a"]);
  });

  it("counts a batch already stored (a redelivery) as duplicates and reports nothing", async () => {
    const { sink } = fakeSink();
    const deps = { transform, sink, deadLetters: fakeDlq().dlq, log };
    await processRecords([valid("a"), valid("b")], deps);
    const again = await processRecords([valid("a"), valid("b")], deps);
    expect(failures(again)).toEqual([]);
    expect(again.summary).toEqual({ records: 2, inserted: 0, duplicates: 2, rejected: 0, failed: 0 });
  });
});
