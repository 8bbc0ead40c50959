// SQS misbehaving for real: a proxy of our own between login-etl and the
// emulator resets the dead-letter queue's connections, refuses its requests,
// answers a receive with a load balancer's HTML page, hangs a long poll, and
// counts what a flood of readiness probes costs. login-etl runs as the real
// binary against the real emulator and PostgreSQL.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../helpers/app.ts";
import { lastJsonLine, runCli, STACK_TRACE, startRun } from "../helpers/cli.ts";
import { type FaultProxy, startFaultProxy } from "../helpers/faultProxy.ts";
import { loginEvent, type TestStack, testStack } from "../helpers/stack.ts";

let stack: TestStack;
let proxy: FaultProxy;

beforeAll(async () => {
  stack = await testStack("sqsfaults");
  proxy = await startFaultProxy(stack.endpointUrl);
});
afterAll(async () => {
  await proxy.close();
  await stack.close();
});
afterEach(() => {
  proxy.rules = [];
});

const MALFORMED = JSON.stringify({ foo: "oops_wrong_msg_type", bar: "123" });
/** `count` bodies, every `every`-th malformed (1 % for every = 100). */
const bodies = (count: number, every: number) =>
  Array.from({ length: count }, (_, i) => (i % every === every - 1 ? MALFORMED : loginEvent()));

/** The environment with every SQS request going through the proxy. */
const viaProxy = (extra: Record<string, string> = {}) =>
  stack.env({ SQS_ENDPOINT_URL: proxy.endpointUrl, ...extra });

async function rowCount(): Promise<number> {
  const [row] = await stack.query<{ n: string }>("SELECT count(*) AS n FROM user_logins");
  return Number(row?.n ?? 0);
}

describe("a dead-letter queue that is down or refuses", () => {
  it("keeps committing and deleting valid rows while every DLQ connection is reset, and drain ends", async () => {
    // Bug: rows stayed at 198 of 990 for 45 s: writers waited for the DLQ send together with the row write.
    await stack.freshQueues();
    await stack.query("TRUNCATE user_logins").catch(() => {});
    await stack.send(bodies(1_000, 100));
    proxy.rules = [{ operation: "SendMessageBatch", queueUrl: stack.dlqUrl, fault: { kind: "reset" } }];
    const res = await runCli(["drain", "--json", "--no-progress"], viaProxy({ LOGIN_ETL_LOG_LEVEL: "warn" }));
    expect(res.code).toBe(0);
    const summary = lastJsonLine(res.stdout);
    expect(summary).toMatchObject({ received: 1_000, inserted: 990, rejected: 0, left_on_queue: 10 });
    expect(await rowCount()).toBe(990);
    // The rejected ten were never deleted: still on the source queue (held until their timeout ends).
    const counts = await stack.counts(stack.queueUrl);
    expect(counts.visible + counts.inFlight).toBe(10);
    expect(res.stderr).toContain('"code":"SQS_UNREACHABLE"');
    expect(proxy.faulted.get("SendMessageBatch")).toBeGreaterThan(0);
  });

  it.each([
    ["AccessDenied (403)", { status: 403, type: "AccessDenied" }, "SQS_ACCESS_DENIED"],
    ["KmsAccessDenied (400)", { status: 400, type: "KmsAccessDenied" }, "SQS_KMS_FAILED"],
  ])(
    "leaves letters on the source queue at once when the DLQ answers %s, logs the code, and drain ends",
    async (_name, error, code) => {
      // Bug: such refusals were retried for ever and drain never ended.
      await stack.freshQueues();
      await stack.send(bodies(20, 10));
      proxy.seen.clear();
      proxy.rules = [
        {
          operation: "SendMessageBatch",
          queueUrl: stack.dlqUrl,
          fault: { kind: "json-error", ...error },
        },
      ];
      const res = await runCli(
        ["drain", "--json", "--no-progress"],
        viaProxy({ LOGIN_ETL_LOG_LEVEL: "warn" }),
      );
      expect(res.code).toBe(0);
      expect(lastJsonLine(res.stdout)).toMatchObject({
        received: 20,
        inserted: 18,
        rejected: 0,
        left_on_queue: 2,
      });
      // Retrying cannot help: one request, not five.
      expect(proxy.seen.get("SendMessageBatch")).toBe(1);
      expect(res.stderr).toContain(`"code":"${code}"`);
      expect(res.stderr).toContain("could not be dead-lettered; left on the source queue");
    },
  );

  it("sends again only the entries of the one SendMessageBatch call that failed", async () => {
    // Bug: one failed call of several made every letter be sent again (30 rejections, 50 dead letters).
    await stack.freshQueues();
    await stack.send(Array.from({ length: 30 }, () => MALFORMED));
    proxy.rules = [
      { operation: "SendMessageBatch", queueUrl: stack.dlqUrl, fault: { kind: "reset" }, times: 1 },
    ];
    const res = await runCli(
      ["drain", "--json", "--no-progress"],
      viaProxy({ LOGIN_ETL_BATCH_SIZE: "30", LOGIN_ETL_FLUSH_INTERVAL_MS: "2000" }),
    );
    expect(res.code).toBe(0);
    expect(lastJsonLine(res.stdout)).toMatchObject({ received: 30, rejected: 30 });
    expect(proxy.faulted.get("SendMessageBatch")).toBeGreaterThanOrEqual(1);
    const letters = await stack.receiveAll(stack.dlqUrl);
    expect(letters).toHaveLength(30);
    const sources = letters.map((m) => m.MessageAttributes?.source_message_id?.StringValue);
    expect(new Set(sources).size).toBe(30);
  });
});

describe("a receive answered by a proxy's HTML 503", () => {
  it("is retried with back-off: run keeps loading, and stops cleanly on SIGTERM", async () => {
    // Bug: one text/html 503 made run exit with SQS_LEGACY_PROTOCOL and "upgrade LocalStack".
    await stack.freshQueues();
    proxy.rules = [{ operation: "ReceiveMessage", fault: { kind: "html", status: 503 }, times: 3 }];
    const service = await startRun(
      viaProxy({ LOGIN_ETL_LOG_LEVEL: "warn", LOGIN_ETL_WAIT_TIME_SECONDS: "1" }),
    );
    const before = await rowCount();
    await stack.send(bodies(50, 1_000));
    await eventually(rowCount, (n) => n === before + 50);
    expect(proxy.faulted.get("ReceiveMessage")).toBe(3);
    service.child.kill("SIGTERM");
    const res = await service.done;
    expect(res.code).toBe(0);
    expect(res.stderr).not.toContain("SQS_LEGACY_PROTOCOL");
    expect(res.stderr).toContain('"code":"SQS_REQUEST_FAILED"');
    expect(res.stderr).not.toMatch(STACK_TRACE);
  });
});

describe("probes", () => {
  it("answers a flood of /readyz with at most one check per second, and ignores query strings", async () => {
    // Bug: each probe cost a GetQueueAttributes and a query on the writers' pool; 300 at once slowed loading.
    await stack.freshQueues();
    const service = await startRun(viaProxy({ LOGIN_ETL_WAIT_TIME_SECONDS: "1" }));
    try {
      const before = proxy.seen.get("GetQueueAttributes") ?? 0;
      const answers = await Promise.all(
        Array.from({ length: 300 }, (_, i) => fetch(`${service.base}/readyz?n=${i}`).then((r) => r.status)),
      );
      expect(answers.every((s) => s === 200)).toBe(true);
      const checks = (proxy.seen.get("GetQueueAttributes") ?? 0) - before;
      expect(checks).toBeLessThanOrEqual(3);
      expect((await fetch(`${service.base}/livez?verbose`)).status).toBe(200);
    } finally {
      service.child.kill("SIGTERM");
      await service.done;
    }
  });

  it("fails /livez when the receive loop stalls far longer than the long poll", async () => {
    await stack.freshQueues();
    const service = await startRun(
      viaProxy({ LOGIN_ETL_WAIT_TIME_SECONDS: "1", LOGIN_ETL_STALL_SECONDS: "2", LOGIN_ETL_POLLERS: "1" }),
    );
    try {
      expect((await fetch(`${service.base}/livez`)).status).toBe(200);
      proxy.rules = [{ operation: "ReceiveMessage", fault: { kind: "hang" } }];
      const body = await eventually(
        () => fetch(`${service.base}/livez`).then(async (r) => ({ status: r.status, body: await r.text() })),
        (r) => r.status === 503,
      );
      expect(body.body).toContain("stalled");
    } finally {
      service.child.kill("SIGTERM");
      expect((await service.done).code).toBe(0);
    }
  });
});

describe("settings that can only loop, and transport security", () => {
  it("refuses a queue whose visibility timeout is 0, naming the setting", async () => {
    // Bug: 205 messages caused 86,750 receives in 60 s and drain never ended.
    const queueUrl = await stack.createQueue("vis0", { VisibilityTimeout: "0" });
    const res = await runCli(["drain"], stack.env({ SQS_QUEUE_URL: queueUrl }));
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("VisibilityTimeout is 0");
    expect(res.stderr).not.toMatch(STACK_TRACE);
  });

  it.each([[["drain"]], [["produce", "--count", "1"]]])(
    "%j refuses a plain http queue URL without an endpoint override (exit 2)",
    async (args) => {
      // Bug: http://… without SQS_ENDPOINT_URL was used in the clear, with the body check off.
      const res = await runCli(args, stack.env({ SQS_ENDPOINT_URL: "" }));
      expect(res.code).toBe(2);
      expect(res.stderr).toContain("plain http:// is allowed only with SQS_ENDPOINT_URL set");
    },
  );
});
