// The pipeline loop (src/pipeline) against in-memory fakes of our own
// contracts (test/unit/fakes.ts): the delivery contract of DESIGN.md §5 and the
// reconciling counters of §7. No SQS, no PostgreSQL, no SDK mocks.
import { afterEach, describe, expect, it, vi } from "vitest";
import { createTransform } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import { EtlError } from "../../src/errors.ts";
import { createLogger, type Logger } from "../../src/ops/logger.ts";
import { createMetrics, type Metrics } from "../../src/ops/metrics.ts";
import { createProblems } from "../../src/ops/problems.ts";
import type { PipelineOptions, Summary, Transform } from "../../src/pipeline/contracts.ts";
import { createHeartbeat } from "../../src/pipeline/heartbeat.ts";
import { createPipeline, type Pipeline } from "../../src/pipeline/pipeline.ts";
import {
  createCapturingLogger,
  createEventLog,
  createFakeDeadLetterQueue,
  createFakeSink,
  createFakeSource,
  type EventLog,
  type FakeDeadLetterQueue,
  type FakeSink,
  type FakeSource,
} from "./fakes.ts";
import { VALID_EVENT, VECTOR_KEYRING_JSON } from "./fixtures.ts";

const realTransform = createTransform(
  loadConfig({ PII_KEYRING: VECTOR_KEYRING_JSON }, {}, new Set(["keyring"])),
);

const validBody = (n: number): string => JSON.stringify({ ...VALID_EVENT, user_id: `user-${n}` });
/** The "completely different shape" of DESIGN §1: rejected as missing_field. */
const WRONG_SHAPE = JSON.stringify({ foo: "oops_wrong_msg_type", bar: "123" });

const BASE_OPTIONS: PipelineOptions = {
  pollers: 1,
  receiveMax: 10,
  waitTimeSeconds: 0,
  batchSize: 50,
  flushIntervalMs: 5,
  maxInFlight: 100,
  maxInFlightBytes: 64 * 1024 * 1024,
  writers: 1,
  stopWhenEmpty: true,
  shutdownTimeoutMs: 2_000,
  backoff: { initialDelayMs: 1, maxDelayMs: 5 },
  visibilityTimeoutSeconds: null,
  maxHoldSeconds: 60,
};

interface Harness {
  readonly log: EventLog;
  readonly source: FakeSource;
  readonly sink: FakeSink;
  readonly dlq: FakeDeadLetterQueue;
  readonly metrics: Metrics;
  readonly pipeline: Pipeline;
  readonly stop: AbortController;
  /** Starts run(stop); the afterEach hook unblocks and stops whatever a failed test left running. */
  run(): Promise<Summary>;
}

const running: Array<{ h: Harness; done: Promise<Summary> }> = [];

function harness(
  options: Partial<PipelineOptions> = {},
  setup: {
    deadLetters?: boolean;
    transform?: Transform;
    stored?: string[];
    maxReceiveCount?: number;
    refuse?: Parameters<typeof createFakeDeadLetterQueue>[0]["refuse"];
    permanent?: Parameters<typeof createFakeDeadLetterQueue>[0]["permanent"];
    /** Where the pipeline logs (silent unless given). */
    logger?: Logger;
  } = {},
): Harness {
  const log = createEventLog();
  const source = createFakeSource({
    log,
    ...(setup.maxReceiveCount === undefined ? {} : { maxReceiveCount: setup.maxReceiveCount }),
  });
  const sink = createFakeSink({ log, stored: setup.stored ?? [] });
  const dlq = createFakeDeadLetterQueue({
    log,
    ...(setup.refuse ? { refuse: setup.refuse } : {}),
    ...(setup.permanent ? { permanent: setup.permanent } : {}),
  });
  const metrics = createMetrics();
  const pipeline = createPipeline(
    {
      source: source.source,
      sink: sink.sink,
      deadLetters: setup.deadLetters === false ? null : dlq.deadLetters,
      transform: setup.transform ?? realTransform,
      metrics,
      log: setup.logger ?? createLogger("silent"),
    },
    { ...BASE_OPTIONS, ...options },
  );
  const stop = new AbortController();
  const h: Harness = {
    log,
    source,
    sink,
    dlq,
    metrics,
    pipeline,
    stop,
    run() {
      const done = pipeline.run(stop.signal);
      running.push({ h, done });
      return done;
    },
  };
  return h;
}

afterEach(async () => {
  for (const { h, done } of running.splice(0)) {
    h.sink.failWith(null);
    h.sink.open();
    h.source.openAcks();
    h.dlq.throwWith(null);
    h.stop.abort();
    await within("cleanup", done, 3_000).catch(() => {});
  }
});

/** Polls `condition` until it holds; fails with `what` after `timeoutMs`. Never an assertion on time. */
async function waitFor(what: string, condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** `promise`, or a rejection naming `what` if it is still pending after `timeoutMs` (a hang). */
function within<T>(what: string, promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, hang]).finally(() => clearTimeout(timer));
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const retryable = () => new EtlError("DB_UNREACHABLE", "cannot reach PostgreSQL (test)");

/** received = inserted + duplicates + rejected (dead-lettered) + left on the queue + released + in flight. */
function expectSummaryReconciles(summary: Summary, inFlight: number): void {
  expect(summary.received).toBe(
    summary.inserted +
      summary.duplicates +
      summary.rejected +
      summary.left_on_queue +
      summary.released +
      inFlight,
  );
}

async function total(metric: { get(): Promise<{ values: Array<{ value: number }> }> }): Promise<number> {
  return (await metric.get()).values.reduce((sum, v) => sum + v.value, 0);
}

async function metricCounts(metrics: Metrics) {
  return {
    received: await total(metrics.received),
    inserted: await total(metrics.inserted),
    duplicates: await total(metrics.duplicates),
    rejected: await total(metrics.rejected),
    released: await total(metrics.released),
    inFlight: await total(metrics.inFlight),
  };
}

/** Every ack event comes after the commit of its row or the DLQ's acceptance of its letter. */
function expectEveryAckAfterItsSettlement(log: EventLog): void {
  log.events.forEach((event, index) => {
    if (event.kind !== "ack") return;
    const committed = log.indexOf("commit", (e) => e.messageId === event.messageId);
    const deadLettered = log.indexOf("dlq-accept", (e) => e.handle === event.handle);
    const settledAt = [committed, deadLettered].filter((i) => i >= 0);
    expect(settledAt.length, `ack of ${event.handle} without a commit or dead letter`).toBeGreaterThan(0);
    expect(Math.min(...settledAt), `ack of ${event.handle} before its settlement`).toBeLessThan(index);
  });
}

function expectEachAckedOnce(source: FakeSource, handles: readonly string[]): void {
  for (const handle of handles) expect(source.ackCount(handle), handle).toBe(1);
}

describe("pipeline: acknowledgement after the durable write", () => {
  it("acks a delivery only after the sink committed its row", async () => {
    const h = harness({ batchSize: 4 });
    for (let i = 0; i < 10; i++) h.source.send(validBody(i));
    const summary = await h.run();
    expect(summary).toMatchObject({ received: 10, inserted: 10, duplicates: 0, rejected: 0, released: 0 });
    expect(h.source.acked).toHaveLength(10);
    expectEveryAckAfterItsSettlement(h.log);
    expect(h.log.of("commit")).toHaveLength(10);
  });

  it("acks nothing while the sink throws a retryable error, retries with back-off, and acks each delivery exactly once after it recovers", async () => {
    const { logger, lines } = createCapturingLogger();
    const h = harness({ backoff: { initialDelayMs: 10, maxDelayMs: 40 } }, { logger });
    h.sink.failWith(retryable);
    for (let i = 0; i < 12; i++) h.source.send(validBody(i));
    const done = h.run();
    await waitFor("four failed write attempts", () => h.sink.attempts.length >= 4);
    expect(h.source.acked).toEqual([]);
    expect(h.log.of("commit")).toEqual([]);
    expect(h.source.held()).toHaveLength(12);
    // The same rows are retried, each attempt after a back-off (never less than initialDelayMs / 2).
    const failed = h.sink.attempts.slice(0, 4);
    for (const attempt of failed) expect(attempt.ids).toEqual(failed[0]?.ids);
    for (let i = 1; i < failed.length; i++) {
      expect((failed[i]?.atMs ?? 0) - (failed[i - 1]?.atMs ?? 0)).toBeGreaterThanOrEqual(4);
    }
    h.sink.failWith(null);
    const summary = await done;
    expect(summary).toMatchObject({ received: 12, inserted: 12, duplicates: 0, released: 0 });
    expectEachAckedOnce(
      h.source,
      h.log.of("receive").map((e) => e.handle ?? ""),
    );
    expect(h.source.acked).toHaveLength(12);
    expectEveryAckAfterItsSettlement(h.log);
    const errors = await h.metrics.errors.get();
    const failedAttempts = h.sink.attempts.length - h.sink.committed.length;
    expect(failedAttempts).toBeGreaterThanOrEqual(3);
    expect(errors.values.find((v) => v.labels.code === "DB_UNREACHABLE")?.value).toBe(failedAttempts);
    // Each failed attempt has its line and its count, under the same stage and code.
    expect(errors.values.map((v) => v.labels)).toEqual([{ stage: "writing", code: "DB_UNREACHABLE" }]);
    const retries = lines.filter((l) => l.msg === "batch write failed; retrying");
    expect(retries).toHaveLength(failedAttempts);
    for (const line of retries)
      expect(line).toMatchObject({ code: "DB_UNREACHABLE", stage: "writing", rows: 12 });
  });

  it("counts each failed delete attempt in errors_total and logs ACK_FAILED once, when the attempts are exhausted", async () => {
    const { logger, lines } = createCapturingLogger();
    const h = harness({}, { logger });
    // Four attempts: the request fails once, then the queue refuses every entry three times.
    h.source.failNextAcks(new EtlError("SQS_UNREACHABLE", "down (test)"), "refuse", "refuse", "refuse");
    const ids = Array.from({ length: 3 }, (_, i) => h.source.send(validBody(i)));
    const summary = await h.run();
    expect(summary).toMatchObject({ received: 3, inserted: 3, ack_failed: 3 });
    expect(h.source.acked).toEqual([]);
    const errors = (await h.metrics.errors.get()).values.map((v) => [v.labels.stage, v.labels.code, v.value]);
    expect(errors).toEqual([
      ["acking", "SQS_UNREACHABLE", 1],
      ["acking", "ACK_FAILED", 3],
    ]);
    const ackLines = lines.filter((l) => l.code === "ACK_FAILED");
    expect(ackLines).toHaveLength(1);
    expect(ackLines[0]).toMatchObject({ stage: "acking", messageIds: ids });
  });

  it("stops receiving once maxInFlight deliveries are in hand while the sink is failing", async () => {
    const h = harness({ receiveMax: 10, maxInFlight: 20, batchSize: 10 });
    h.sink.failWith(retryable);
    for (let i = 0; i < 100; i++) h.source.send(validBody(i));
    const done = h.run();
    await waitFor("ten failed write attempts", () => h.sink.attempts.length >= 10);
    const receivesWhilePaused = h.source.receiveCalls();
    await waitFor("ten more failed write attempts", () => h.sink.attempts.length >= 20);
    expect(h.source.receiveCalls()).toBe(receivesWhilePaused);
    expect(h.source.received()).toBe(20);
    expect(h.source.maxHeld()).toBeLessThanOrEqual(20);
    expect(h.source.acked).toEqual([]);
    h.sink.failWith(null);
    const summary = await done;
    expect(summary).toMatchObject({ received: 100, inserted: 100 });
    expect(h.source.acked).toHaveLength(100);
    expectEachAckedOnce(
      h.source,
      h.log.of("receive").map((e) => e.handle ?? ""),
    );
    expect(h.source.maxHeld()).toBeLessThanOrEqual(20);
  });

  it("never holds more than maxInFlight deliveries, even with several pollers", async () => {
    // Bug: each poller checks the bound before its receive and counts the answer only after it,
    // so a poller whose receive overlaps another's takes receiveMax against the same headroom.
    // Two pollers of ten fit in maxInFlight 20 exactly; a third receive must wait.
    const h = harness({ pollers: 2, receiveMax: 10, maxInFlight: 20, batchSize: 10 });
    h.sink.failWith(retryable);
    for (let i = 0; i < 100; i++) h.source.send(validBody(i));
    const done = h.run();
    await waitFor("five failed write attempts", () => h.sink.attempts.length >= 5);
    expect(h.source.maxHeld()).toBeLessThanOrEqual(20);
    h.sink.failWith(null);
    expect(await within("drain", done, 3_000)).toMatchObject({ received: 100, inserted: 100 });
    expect(h.source.maxHeld()).toBeLessThanOrEqual(20);
  });
});

describe("pipeline: rejections", () => {
  it("sends rejections to the dead-letter queue and acks them only after the queue accepted them", async () => {
    const h = harness();
    for (let i = 0; i < 4; i++) h.source.send(validBody(i));
    const wrongShape = h.source.send(WRONG_SHAPE);
    const notJson = h.source.send("{not json");
    const summary = await h.run();
    expect(summary).toMatchObject({
      received: 6,
      inserted: 4,
      rejected: 2,
      left_on_queue: 0,
    });
    expect(summary.rejected_by_reason).toEqual({ missing_field: 1, invalid_json: 1 });
    const letters = new Map(h.dlq.accepted.map((l) => [l.delivery.messageId, l.rejection.code]));
    expect(letters).toEqual(
      new Map([
        [wrongShape, "missing_field"],
        [notJson, "invalid_json"],
      ]),
    );
    expect(h.source.acked).toHaveLength(6);
    expectEveryAckAfterItsSettlement(h.log);
    for (const id of [wrongShape, notJson]) {
      const accepted = h.log.indexOf("dlq-accept", (e) => e.messageId === id);
      expect(accepted).toBeGreaterThanOrEqual(0);
      expect(h.log.indexOf("ack", (e) => e.messageId === id)).toBeGreaterThan(accepted);
    }
  });

  it("retries only the letters the dead-letter queue did not accept", async () => {
    const refusedOnce = new Set<string>();
    const h = harness(
      {},
      { refuse: (letter, call) => call === 1 && refusedOnce.has(letter.delivery.messageId) },
    );
    const ids = Array.from({ length: 5 }, () => h.source.send(WRONG_SHAPE));
    refusedOnce.add(ids[1] ?? "").add(ids[3] ?? "");
    const summary = await h.run();
    expect(h.dlq.sends).toHaveLength(2);
    expect(h.dlq.sends[0]?.map((l) => l.delivery.messageId)).toEqual(ids);
    expect(h.dlq.sends[1]?.map((l) => l.delivery.messageId)).toEqual([ids[1], ids[3]]);
    expect(h.dlq.accepted.map((l) => l.delivery.messageId).sort()).toEqual([...ids].sort());
    expect(summary).toMatchObject({ received: 5, rejected: 5 });
    expectEachAckedOnce(
      h.source,
      h.log.of("receive").map((e) => e.handle ?? ""),
    );
    expectEveryAckAfterItsSettlement(h.log);
  });

  it("leaves rejections on the queue, counted as left_on_queue and never acked or released, when there is no dead-letter queue", async () => {
    const h = harness({}, { deadLetters: false });
    for (let i = 0; i < 3; i++) h.source.send(validBody(i));
    const rejectedIds = [h.source.send(WRONG_SHAPE), h.source.send("[]")];
    const summary = await h.run();
    expect(summary).toMatchObject({
      received: 5,
      inserted: 3,
      rejected: 0,
      left_on_queue: 2,
      released: 0,
    });
    expect(summary.rejected_by_reason).toEqual({ missing_field: 1, not_an_object: 1 });
    expect(h.source.acked.map((d) => d.messageId)).not.toEqual(expect.arrayContaining([rejectedIds[0]]));
    expect(h.source.acked.map((d) => d.messageId)).not.toEqual(expect.arrayContaining([rejectedIds[1]]));
    expect(h.source.released).toEqual([]);
    expect(
      h.source
        .held()
        .map((d) => d.messageId)
        .sort(),
    ).toEqual([...rejectedIds].sort());
    const rejected = await h.metrics.rejected.get();
    expect(
      rejected.values.filter((v) => v.labels.outcome === "left_on_queue").reduce((n, v) => n + v.value, 0),
    ).toBe(2);
    expectSummaryReconciles(summary, h.pipeline.inFlight());
  });
});

describe("pipeline: duplicates", () => {
  it("writes one row for the same messageId twice in one batch, acks both deliveries, and counts 1 inserted + 1 duplicate", async () => {
    const h = harness({ flushIntervalMs: 10_000 });
    const twice = h.source.send(validBody(1));
    const other = h.source.send(validBody(2));
    h.source.send(validBody(1), twice);
    const summary = await h.run();
    expect(h.sink.attempts).toHaveLength(1);
    expect(h.sink.attempts[0]?.ids.sort()).toEqual([twice, other].sort());
    expect(summary).toMatchObject({ received: 3, inserted: 2, duplicates: 1, rejected: 0 });
    const handlesOfTwice = h.log.of("receive").filter((e) => e.messageId === twice);
    expect(handlesOfTwice).toHaveLength(2);
    expectEachAckedOnce(
      h.source,
      handlesOfTwice.map((e) => e.handle ?? ""),
    );
    expectEveryAckAfterItsSettlement(h.log);
    expectSummaryReconciles(summary, 0);
  });

  it("counts the rows the sink reports as already stored as duplicates, and acks them", async () => {
    const h = harness({}, { stored: ["m-2", "m-3"] });
    for (let i = 1; i <= 5; i++) h.source.send(validBody(i));
    const summary = await h.run();
    expect(summary).toMatchObject({ received: 5, inserted: 3, duplicates: 2 });
    expect(h.sink.writtenIds().sort()).toEqual(["m-1", "m-4", "m-5"]);
    expect(h.source.acked).toHaveLength(5);
    expect(await total(h.metrics.duplicates)).toBe(2);
  });
});

describe("pipeline: letters the dead-letter queue refuses", () => {
  it("leaves a letter the DLQ refuses for good on the source queue at once, never acked, and carries on", async () => {
    const h = harness({}, { refuse: (l) => l.delivery.body === "[]", permanent: () => true });
    const bad = h.source.send("[]");
    for (let i = 0; i < 3; i++) h.source.send(validBody(i));
    const summary = await within("drain", h.run(), 3_000);
    expect(summary).toMatchObject({ received: 4, inserted: 3, rejected: 0, left_on_queue: 1, released: 0 });
    expect(h.dlq.sends.filter((batch) => batch.some((l) => l.delivery.messageId === bad))).toHaveLength(1);
    expect(h.source.acked.map((d) => d.messageId)).not.toContain(bad);
    expectSummaryReconciles(summary, 0);
  });

  it("gives up on a letter the DLQ keeps refusing after five tries, leaving it on the source queue", async () => {
    const h = harness({}, { refuse: (l) => l.delivery.body === "[]" });
    const bad = h.source.send("[]");
    const summary = await within("drain", h.run(), 3_000);
    expect(summary).toMatchObject({ received: 1, rejected: 0, left_on_queue: 1 });
    expect(h.dlq.sends).toHaveLength(5);
    expect(h.source.acked.map((d) => d.messageId)).not.toContain(bad);
  });
});

describe("pipeline: a dead-letter queue that is down", () => {
  const DOWN = new EtlError("SQS_UNREACHABLE", "dead-letter queue unreachable (test)");

  it("keeps committing and deleting valid rows while the dead-letter queue is down", async () => {
    // Bug: writers awaited the DLQ send together with the row write, so a DLQ outage held back every row.
    const h = harness({ deadLetterAttempts: 100_000, batchSize: 10, maxInFlight: 40 });
    h.dlq.throwWith(DOWN);
    const rejected = h.source.send(WRONG_SHAPE);
    const valid = Array.from({ length: 200 }, (_, i) => h.source.send(validBody(i)));
    const done = h.run();
    await waitFor("every valid row committed and acked", () =>
      valid.every((id) => h.source.acked.some((d) => d.messageId === id)),
    );
    expect(h.dlq.accepted).toEqual([]);
    expect(h.source.acked.some((d) => d.messageId === rejected)).toBe(false);
    h.dlq.throwWith(null);
    expect(await done).toMatchObject({ received: 201, inserted: 200, rejected: 1, left_on_queue: 0 });
  });

  it("leaves a letter on the source queue after a bounded number of failed sends, never deleting it, and drain ends", async () => {
    const h = harness({ deadLetterAttempts: 3 });
    h.dlq.throwWith(DOWN);
    const rejected = h.source.send(WRONG_SHAPE);
    const summary = await within("drain", h.run(), 3_000);
    expect(h.dlq.sends).toHaveLength(3);
    expect(summary).toMatchObject({ received: 1, rejected: 0, left_on_queue: 1, released: 0 });
    expect(h.source.acked.some((d) => d.messageId === rejected)).toBe(false);
    expect(h.source.released).toEqual([]);
  });

  it("leaves a letter at once when the dead-letter queue refuses the request for good (access denied)", async () => {
    const h = harness({ deadLetterAttempts: 5 });
    h.dlq.throwWith(new EtlError("SQS_ACCESS_DENIED", "no (test)", { retryable: false }));
    h.source.send(WRONG_SHAPE);
    const summary = await within("drain", h.run(), 3_000);
    expect(h.dlq.sends).toHaveLength(1);
    expect(summary).toMatchObject({ rejected: 0, left_on_queue: 1 });
    expect(await total(h.metrics.errors)).toBeGreaterThanOrEqual(1);
  });

  it("drain ends when a rejection it left on the queue comes back before the queue is empty", async () => {
    // Bug: with a short visibility timeout the same rejected message kept coming back, and drain never ended.
    const h = harness({ deadLetterAttempts: 1, pollers: 1 });
    h.dlq.throwWith(DOWN);
    h.source.send(WRONG_SHAPE);
    const done = h.run();
    await waitFor("the letter left on the queue", () => h.pipeline.summary.left_on_queue === 1);
    h.source.lapse();
    const summary = await within("drain", done, 3_000);
    expect(h.dlq.sends).toHaveLength(1);
    expect(summary.received).toBeGreaterThanOrEqual(2);
    expect(summary.left_on_queue).toBe(summary.received);
  });
});

describe("pipeline: memory", () => {
  it("asks for fewer messages per receive as large bodies fill the byte budget", async () => {
    const big = JSON.stringify({ pad: "x".repeat(100_000) }); // about 100 KB each
    const h = harness({
      maxInFlight: 1_000,
      maxInFlightBytes: 300_000,
      receiveMax: 10,
      deadLetterAttempts: 100_000,
      stopWhenEmpty: false,
    });
    h.dlq.throwWith(new EtlError("SQS_UNREACHABLE", "down (test)"));
    h.source.send(big);
    const done = h.run();
    await waitFor("the first body received", () => h.source.received() === 1);
    for (let i = 0; i < 20; i++) h.source.send(big);
    // Room for just under two more of this size: receives of 1 (then of 1 again as the room
    // shrinks), never of 10, and then nothing: the budget is overshot by less than one body.
    await waitFor("the budget filled", () => h.source.received() === 3);
    const calls = h.source.receiveCalls();
    await new Promise((r) => setTimeout(r, 50));
    expect(h.source.receiveCalls()).toBe(calls);
    expect(h.source.receiveSizes.filter((n) => n > 0)).toEqual([1, 1, 1]);
    h.dlq.throwWith(null);
    h.stop.abort();
    await done.catch(() => {});
  });

  it("stops receiving at the in-flight byte budget, well before the count bound, and drops a row's body once transformed", async () => {
    const big = JSON.stringify({ pad: "x".repeat(100_000) }); // rejected: body_too_large, 100 KB
    const h = harness({
      maxInFlight: 1_000,
      maxInFlightBytes: 300_000,
      receiveMax: 1,
      batchSize: 1,
      deadLetterAttempts: 100_000,
    });
    h.dlq.throwWith(new EtlError("SQS_UNREACHABLE", "down (test)"));
    for (let i = 0; i < 20; i++) h.source.send(big);
    const done = h.run();
    await waitFor("the byte budget reached", () => h.source.held().length >= 3);
    // Nothing settles while the DLQ is down, so nothing may free room: give a fourth receive
    // the chance to happen wrongly (passing does not depend on how long this takes).
    const calls = h.source.receiveCalls();
    await new Promise((r) => setTimeout(r, 50));
    expect(h.source.receiveCalls()).toBe(calls);
    expect(h.source.held().length).toBeLessThanOrEqual(3);
    h.dlq.throwWith(null);
    expect(await done).toMatchObject({ received: 20, rejected: 20 });
  });
});

describe("pipeline: rows the database refuses", () => {
  it("bisects a batch around a refused row: commits the good rows and dead-letters the refused one as invalid_field", async () => {
    const h = harness({ flushIntervalMs: 10_000 });
    const ids = Array.from({ length: 8 }, (_, i) => h.source.send(validBody(i)));
    const bad = ids[5] ?? "";
    h.sink.failWith((rows) =>
      rows.some((r) => r.message_id === bad)
        ? new EtlError("DB_ROW_REFUSED", "PostgreSQL refused a value (test)", { retryable: false })
        : null,
    );
    const summary = await h.run();
    expect(h.sink.writtenIds().sort()).toEqual(ids.filter((id) => id !== bad).sort());
    expect(h.sink.committed.flat()).toHaveLength(7);
    expect(h.dlq.accepted.map((l) => [l.delivery.messageId, l.rejection.code])).toEqual([
      [bad, "invalid_field"],
    ]);
    expect(summary).toMatchObject({ received: 8, inserted: 7, rejected: 1, released: 0 });
    expect(summary.rejected_by_reason).toEqual({ invalid_field: 1 });
    expectEachAckedOnce(
      h.source,
      h.log.of("receive").map((e) => e.handle ?? ""),
    );
    expectEveryAckAfterItsSettlement(h.log);
  });
});

describe("pipeline: drain (stopWhenEmpty)", () => {
  it("ends once every poller got an empty receive and nothing is in flight, with summary and metrics reconciling", async () => {
    const h = harness({ pollers: 2, writers: 2, batchSize: 8 }, { stored: ["m-1", "m-2"] });
    for (let i = 1; i <= 30; i++) h.source.send(validBody(i));
    h.source.send(validBody(3), "m-3");
    for (let i = 0; i < 3; i++) h.source.send(WRONG_SHAPE);
    h.source.send("not json");
    h.source.send("42");
    const summary = await within("drain", h.run(), 5_000);

    expect(summary).toMatchObject({
      received: 36,
      inserted: 28,
      duplicates: 3,
      rejected: 5,
      released: 0,
      left_on_queue: 0,
    });
    expect(h.pipeline.inFlight()).toBe(0);
    expect(h.source.visibleCount()).toBe(0);
    expect(h.source.held()).toEqual([]);
    expectEachAckedOnce(
      h.source,
      h.log.of("receive").map((e) => e.handle ?? ""),
    );
    // Every poller came back empty after the last delivery was handed out.
    const sizes = h.source.receiveSizes;
    const lastNonEmpty = sizes.findLastIndex((n) => n > 0);
    expect(sizes.slice(lastNonEmpty + 1).length).toBeGreaterThanOrEqual(2);
    expectSummaryReconciles(summary, 0);

    const counts = await metricCounts(h.metrics);
    expect(counts).toEqual({
      received: 36,
      inserted: 28,
      duplicates: 3,
      rejected: 5,
      released: 0,
      inFlight: 0,
    });
    expect(counts.received).toBe(
      counts.inserted + counts.duplicates + counts.rejected + counts.released + counts.inFlight,
    );
  });
});

describe("pipeline: shutdown", () => {
  // Long polls (waitTimeSeconds 20) that only the stop signal ends, and a batch that would wait a minute to fill:
  // whatever is received stays in hand until the shutdown.
  const inHand: Partial<PipelineOptions> = {
    stopWhenEmpty: false,
    waitTimeSeconds: 20,
    flushIntervalMs: 60_000,
    batchSize: 1_000,
    shutdownTimeoutMs: 50,
  };

  it("waits, past the deadline, for the dead-letter lane to hand its letters back before it resolves", async () => {
    // Bug: at the deadline the dead-letter lane released its letters while run() had already
    // resolved: the process exited with those releases unsent, and the messages stayed hidden
    // for a visibility timeout.
    const h = harness({ ...inHand, flushIntervalMs: 5, shutdownTimeoutMs: 100, deadLetterAttempts: 100_000 });
    h.dlq.throwWith(new EtlError("DLQ_SEND_FAILED", "dead-letter queue unavailable (test)"));
    for (let i = 0; i < 3; i++) h.source.send(WRONG_SHAPE);
    const done = h.run().catch((err: unknown) => err);
    await waitFor("the letters failing to reach the dead-letter queue", () => h.dlq.sends.length >= 2);
    h.stop.abort();
    expect(await within("shutdown", done, 3_000)).toMatchObject({ code: "SHUTDOWN_DEADLINE" });
    expect(h.source.held()).toEqual([]);
    expect(h.source.released).toHaveLength(3);
  });

  it("stops receiving, writes and acks what is in hand, and resolves", async () => {
    const h = harness({ ...inHand, pollers: 2, shutdownTimeoutMs: 2_000 });
    for (let i = 0; i < 5; i++) h.source.send(validBody(i));
    const done = h.run();
    await waitFor(
      "all five received and both pollers in a long poll",
      () => h.source.received() === 5 && h.source.receiveCalls() >= 3,
    );
    expect(h.sink.attempts).toEqual([]);
    const receiveCallsAtStop = h.source.receiveCalls();
    h.stop.abort();
    const summary = await within("shutdown", done, 2_000);
    expect(h.source.receiveCalls()).toBe(receiveCallsAtStop);
    expect(summary).toMatchObject({ received: 5, inserted: 5, released: 0 });
    expect(h.source.acked).toHaveLength(5);
    expect(h.source.released).toEqual([]);
    expectEveryAckAfterItsSettlement(h.log);
    expectSummaryReconciles(summary, h.pipeline.inFlight());
  });

  it("releases what is in hand and rejects with SHUTDOWN_DEADLINE when the sink never recovers", async () => {
    const h = harness({ ...inHand, flushIntervalMs: 5 });
    h.sink.failWith(retryable);
    for (let i = 0; i < 5; i++) h.source.send(validBody(i));
    const done = h.run();
    await waitFor("the batch failing twice", () => h.source.received() === 5 && h.sink.attempts.length >= 2);
    h.stop.abort();
    await expect(within("shutdown", done, 2_000)).rejects.toMatchObject({
      name: "EtlError",
      code: "SHUTDOWN_DEADLINE",
    });
    expect(h.source.acked).toEqual([]);
    expect(h.source.released.map((d) => d.handle).sort()).toEqual(
      h.log
        .of("receive")
        .map((e) => e.handle)
        .sort(),
    );
    expect(h.pipeline.summary).toMatchObject({ received: 5, inserted: 0, released: 5 });
    expectSummaryReconciles(h.pipeline.summary, h.pipeline.inFlight());
    expect(h.pipeline.inFlight()).toBe(0);
  });

  it("releases what is in hand at the shutdown deadline even when a write never returns", async () => {
    // Bug: the deadline is checked only between write attempts, so a write that hangs (a half-open
    // connection; the pool sets no query timeout) holds the shutdown, and the messages, forever.
    const h = harness({ ...inHand, flushIntervalMs: 5 });
    h.sink.hold();
    for (let i = 0; i < 5; i++) h.source.send(validBody(i));
    const done = h.run();
    await waitFor("a write in progress", () => h.source.received() === 5 && h.sink.attempts.length === 1);
    h.stop.abort();
    await expect(within("shutdown with a hung write", done, 1_500)).rejects.toMatchObject({
      code: "SHUTDOWN_DEADLINE",
    });
    expect(h.source.released).toHaveLength(5);
    expect(h.source.acked).toEqual([]);
  });

  it("does not report SHUTDOWN_DEADLINE when everything in hand was written, only because a transform failure released a message earlier", async () => {
    // Bug: run() throws SHUTDOWN_DEADLINE when the deadline passed and summary.released > 0, but
    // summary.released counts every release of the run, not only those the deadline caused.
    // Here the deadline passes while the last deletes are slow; nothing in hand is released.
    const poison: Transform = (delivery) => {
      if (delivery.body.includes('"poison"')) throw new TypeError("transform bug");
      return realTransform(delivery);
    };
    const h = harness(
      { ...inHand, flushIntervalMs: 5, shutdownTimeoutMs: 20 },
      { transform: poison, maxReceiveCount: 1 },
    );
    h.source.holdAcks();
    h.source.send(JSON.stringify({ ...VALID_EVENT, user_id: "poison" }));
    for (let i = 0; i < 3; i++) h.source.send(validBody(i));
    const done = h.run();
    await waitFor(
      "the poison given back and the rows committed",
      () => h.pipeline.summary.released === 1 && h.log.of("commit").length === 3,
    );
    h.stop.abort();
    await pause(150); // the deletes outlive the 20 ms deadline, then succeed
    h.source.openAcks();
    const summary = await within("shutdown", done, 2_000);
    expect(summary).toMatchObject({ received: 4, inserted: 3, released: 1 });
    expect(h.source.acked).toHaveLength(3);
  });
});

describe("pipeline: receive failures", () => {
  it("retries a retryable receive error and carries on", async () => {
    const h = harness();
    h.source.failNextReceive(
      new EtlError("SQS_REQUEST_FAILED", "throttled (test)"),
      new Error("socket hang up"),
    );
    for (let i = 0; i < 3; i++) h.source.send(validBody(i));
    const summary = await h.run();
    expect(summary).toMatchObject({ received: 3, inserted: 3 });
    const errors = await h.metrics.errors.get();
    expect(errors.values.filter((v) => v.labels.stage === "receiving").reduce((n, v) => n + v.value, 0)).toBe(
      2,
    );
  });

  it("rejects with a non-retryable receive error after settling what was in hand", async () => {
    const legacy = new EtlError(
      "SQS_LEGACY_PROTOCOL",
      "the endpoint speaks only the SQS Query protocol (test)",
      {
        retryable: false,
      },
    );
    const h = harness({ stopWhenEmpty: false, waitTimeSeconds: 20, flushIntervalMs: 60_000 });
    for (let i = 0; i < 3; i++) h.source.send(validBody(i));
    const done = h.run();
    await waitFor(
      "three received and the next long poll waiting",
      () => h.source.received() === 3 && h.source.receiveCalls() === 2,
    );
    expect(h.sink.attempts).toEqual([]);
    h.source.failNextReceive(legacy);
    const error = await within("run", done, 2_000).then(
      () => null,
      (err: unknown) => err,
    );
    expect(error).toBe(legacy);
    expect(h.source.acked).toHaveLength(3);
    expect(h.sink.writtenIds()).toHaveLength(3);
    expect(h.pipeline.summary).toMatchObject({ received: 3, inserted: 3, released: 0 });
    const receiveCalls = h.source.receiveCalls();
    await pause(20);
    expect(h.source.receiveCalls()).toBe(receiveCalls);
  });
});

describe("pipeline: visibility heartbeat", () => {
  it("extends deliveries held past half the visibility timeout, and not after maxHoldSeconds", async () => {
    const h = harness({ visibilityTimeoutSeconds: 1, maxHoldSeconds: 1 });
    h.sink.hold();
    for (let i = 0; i < 3; i++) h.source.send(validBody(i));
    const done = h.run();
    await waitFor(
      "each delivery extended",
      () => new Set(h.source.extended.map((x) => x.delivery.handle)).size === 3,
    );
    const receivedAtMs = Math.max(...h.source.held().map((d) => d.receivedAtMs));
    // Two heartbeats (every 250 ms at a 1 s timeout) after the hold ran out.
    await waitFor("the hold to run out", () => Date.now() >= receivedAtMs + 1_000 + 600);
    expect(h.log.of("commit")).toEqual([]);
    for (const { delivery, seconds, atMs } of h.source.extended) {
      expect(seconds).toBe(1);
      expect(atMs - delivery.receivedAtMs).toBeGreaterThanOrEqual(500);
      expect(atMs - delivery.receivedAtMs).toBeLessThan(1_000 + 50);
    }
    h.sink.open();
    const summary = await done;
    expect(summary).toMatchObject({ received: 3, inserted: 3 });
    expect(h.source.acked).toHaveLength(3);
    expect(await total(h.metrics.visibilityExtended)).toBe(h.source.extended.length);
  });

  it("sends no release while an extension of the same delivery is still unanswered (the deadline on a hung database)", async () => {
    // Bug: at the deadline a release could go out while the heartbeat's extension was still on
    // its way; SQS applying the extension last hid the message again for a whole timeout.
    const h = harness({ visibilityTimeoutSeconds: 1, maxHoldSeconds: 60, shutdownTimeoutMs: 300 });
    h.sink.hold();
    for (let i = 0; i < 3; i++) h.source.send(validBody(i));
    h.source.holdExtends();
    const done = h.run().catch((err: unknown) => err);
    await waitFor("an extension sent and not yet answered", () => h.log.of("extend").length > 0);
    h.stop.abort();
    await waitFor("the deadline handing back what is held", () => h.pipeline.summary.released > 0);
    // Handed back, but not sent to the queue while the extension is unanswered.
    expect(h.source.releaseCalls()).toBe(0);
    h.source.openExtends();
    expect(await done).toMatchObject({ code: "SHUTDOWN_DEADLINE" });
    const events = h.log.events;
    const released = h.log.of("release");
    expect(released.length).toBeGreaterThan(0);
    for (const release of released) {
      const at = events.indexOf(release);
      const sent = events.filter(
        (e, i) => i < at && e.kind === "extend" && e.handle === release.handle,
      ).length;
      const answered = events.filter(
        (e, i) => i < at && e.kind === "extend-answered" && e.handle === release.handle,
      ).length;
      expect(answered, `extensions of ${release.handle} answered before its release`).toBe(sent);
    }
    h.sink.open();
  });

  it("does not extend deliveries that were already acked while the rest of their batch is still settling", async () => {
    // Bug: the heartbeat holds every delivery of a batch until the whole batch settled, so a row
    // committed and deleted keeps getting extended while the batch's dead letters are retried.
    const h = harness({
      visibilityTimeoutSeconds: 1,
      maxHoldSeconds: 60,
      flushIntervalMs: 10_000,
      deadLetterAttempts: 100_000,
    });
    h.dlq.throwWith(new EtlError("DLQ_SEND_FAILED", "dead-letter queue unavailable (test)"));
    const good = h.source.send(validBody(1));
    const rejected = h.source.send(WRONG_SHAPE);
    const done = h.run();
    await waitFor("the good row acked", () => h.source.acked.some((d) => d.messageId === good));
    await waitFor("the pending rejection extended", () =>
      h.source.extended.some((x) => x.delivery.messageId === rejected),
    );
    const ackedAt = h.log.indexOf("ack", (e) => e.messageId === good);
    const extendedAfterAck = h.log.events.filter(
      (e, index) => e.kind === "extend" && e.messageId === good && index > ackedAt,
    );
    expect(extendedAfterAck).toEqual([]);
    h.dlq.throwWith(null);
    expect(await done).toMatchObject({ received: 2, inserted: 1, rejected: 1 });
  });

  describe("createHeartbeat (fake clock)", () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    /** Sends `body` to the fake source and receives it, letting the fake clock run the receive. */
    async function sendAndReceive(source: FakeSource, body: string, what: string) {
      source.send(body);
      const receiving = source.source.receive({
        maxMessages: 1,
        waitTimeSeconds: 0,
        signal: new AbortController().signal,
      });
      await vi.advanceTimersByTimeAsync(1);
      const [delivery] = await receiving;
      if (!delivery) throw new Error(`no ${what}`);
      return delivery;
    }

    it("keeps a held delivery invisible without a gap until maxHoldSeconds, then lets it lapse", async () => {
      vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
      const log = createEventLog();
      const source = createFakeSource({ log });
      const delivery = await sendAndReceive(source, validBody(1), "delivery");
      let held = [delivery];
      const metrics = createMetrics();
      const heartbeat = createHeartbeat(
        {
          source: source.source,
          sink: createFakeSink({ log }).sink,
          deadLetters: null,
          transform: realTransform,
          metrics,
          log: createLogger("silent"),
        },
        { ...BASE_OPTIONS, visibilityTimeoutSeconds: 1, maxHoldSeconds: 3 },
        () => held,
        createProblems(createLogger("silent"), metrics),
      );
      heartbeat.start();
      await vi.advanceTimersByTimeAsync(6_000);
      const extends_ = source.extended.map((x) => ({
        afterMs: x.atMs - delivery.receivedAtMs,
        seconds: x.seconds,
      }));
      expect(extends_.length).toBeGreaterThan(0);
      // Extended before each grant ran out, never before half of it, never after the hold.
      let visibleAtMs = 1_000;
      for (const { afterMs, seconds } of extends_) {
        expect(afterMs).toBeLessThan(visibleAtMs);
        expect(visibleAtMs - afterMs).toBeLessThan(500);
        expect(afterMs).toBeLessThan(3_000);
        visibleAtMs = afterMs + seconds * 1_000;
      }
      expect(visibleAtMs).toBeGreaterThanOrEqual(3_000);
      const count = source.extended.length;
      await vi.advanceTimersByTimeAsync(5_000);
      expect(source.extended).toHaveLength(count);

      // A delivery no longer held (settled) is never extended.
      const second = await sendAndReceive(source, validBody(2), "second delivery");
      held = [second];
      await vi.advanceTimersByTimeAsync(400);
      held = [];
      await vi.advanceTimersByTimeAsync(3_000);
      heartbeat.stop();
      expect(source.extended).toHaveLength(count);
    });
  });
});

describe("pipeline: transform failures", () => {
  it("leaves a delivery whose transform throws to its visibility timeout, without a hot release loop, and keeps processing the rest", async () => {
    const poison: Transform = (delivery) => {
      if (delivery.body.includes('"poison"')) throw new TypeError("transform bug");
      return realTransform(delivery);
    };
    const h = harness({}, { transform: poison });
    const bad = h.source.send(JSON.stringify({ ...VALID_EVENT, user_id: "poison" }));
    for (let i = 0; i < 4; i++) h.source.send(validBody(i));
    const summary = await within("drain", h.run(), 3_000);
    expect(summary).toMatchObject({ received: 5, inserted: 4, released: 1, rejected: 0 });
    // Not released at once (that would hand it straight back, forever), and never acked.
    expect(h.source.released).toEqual([]);
    expect(h.source.acked.map((d) => d.messageId)).not.toContain(bad);
    expect(h.sink.writtenIds()).toHaveLength(4);
    expectSummaryReconciles(summary, 0);
    const errors = await h.metrics.errors.get();
    expect(errors.values.find((v) => v.labels.code === "TRANSFORM_FAILED")?.value).toBe(1);
  });
});
