// The SQS endpoint goes away under a running `login-etl run` and comes back:
// the emulator is stopped (its connections cut, long polls and deletes fail)
// and restarted on the same port from its on-disk state, messages in flight
// included. While it is away the service keeps what it holds, retries with
// back-off, and afterwards carries on by itself; nothing is lost or doubled.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.ts";
import {
  audit,
  type ChaosStack,
  emptySent,
  expectExactlyOnce,
  figures,
  queueCounts,
  reconcile,
  rowCount,
  sendSynthetic,
  sleep,
  startChaosStack,
  waitFor,
} from "./harness.ts";
import { problemCodes, type Service, startService } from "./service.ts";

const BEFORE = 5_000;
const AFTER = 2_000;
const OUTAGE_MS = 5_000;
// Shorter than the outage: the heartbeat cannot reach SQS meanwhile, so held
// messages come back after the restart and are seen again (duplicates, not doubles).
const VISIBILITY_TIMEOUT_S = 4;
const SHUTDOWN_TIMEOUT_MS = 15_000;

let stack: ChaosStack;
let service: Service | null = null;
const sent = emptySent();

beforeAll(async () => {
  stack = await startChaosStack({ visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_S, sqsPersistence: true });
  const migrate = await runCli(["migrate"], stack.env());
  expect(migrate.code, migrate.stderr).toBe(0);
  await sendSynthetic(stack, sent, { count: BEFORE, malformedRatio: 0.01, seed: 2000 });
});

afterAll(async () => {
  service?.child.kill("SIGKILL");
  await stack?.close();
});

describe("SQS endpoint restarted mid-run", () => {
  it("loses and doubles nothing, recovers without a restart, and its counters reconcile", async () => {
    service = await startService(
      stack.env({
        LOGIN_ETL_WAIT_TIME_SECONDS: "2",
        LOGIN_ETL_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      }),
    );
    const svc = service;
    await waitFor(
      "rows before the outage",
      () => rowCount(stack),
      (n) => n >= 1_500,
      60_000,
    );
    await stack.stopSqs();
    const down = performance.now();
    let readyz = 0;
    while (performance.now() - down < OUTAGE_MS) {
      readyz = await svc.status("/readyz");
      await sleep(500);
    }
    expect(svc.exited()).toBeNull();
    expect(await svc.status("/livez")).toBe(200);
    expect(readyz).toBe(503);
    const atRestart = await svc.metrics();
    await stack.startSqs();
    const up = performance.now();
    await waitFor(
      "first receive after the restart",
      () => svc.metrics(),
      (m) => (m.login_etl_messages_received_total ?? 0) > (atRestart.login_etl_messages_received_total ?? 0),
      60_000,
      50,
    );
    const recoveryMs = performance.now() - up;

    // The stream goes on once the endpoint is back (never during: see sendSynthetic).
    await sendSynthetic(stack, sent, { count: AFTER, malformedRatio: 0.01, seed: 2001 });
    await waitFor(
      "every row written",
      () => rowCount(stack),
      (n) => n >= sent.valid.size,
      120_000,
      250,
    );
    await waitFor(
      "queue empty and nothing in flight",
      async () => ({ q: await queueCounts(stack), m: await svc.metrics() }),
      ({ q, m }) => q.visible === 0 && q.inFlight === 0 && m.login_etl_messages_in_flight === 0,
      90_000,
      250,
    );
    const metrics = await svc.metrics();
    expect(svc.exited()).toBeNull();

    const stopAt = performance.now();
    svc.child.kill("SIGTERM");
    const exit = await svc.done;
    const shutdownMs = performance.now() - stopAt;
    expect(exit.code, exit.stderr).toBe(0);

    const result = await audit(stack, sent);
    const counters = reconcile(metrics);
    console.log(
      "sqs outage",
      JSON.stringify(
        {
          messages: sent.valid.size + sent.malformed.size,
          outageMs: Math.round(up - down),
          recoveryMs: Math.round(recoveryMs),
          shutdownMs: Math.round(shutdownMs),
          counters: {
            ...counters,
            inserted: metrics.login_etl_rows_inserted_total,
            duplicates: metrics.login_etl_messages_duplicate_total,
            rejected: metrics.login_etl_messages_rejected_total,
            released: metrics.login_etl_messages_released_total,
            inFlight: metrics.login_etl_messages_in_flight,
            ackFailures: metrics.login_etl_ack_failures_total,
          },
          problems: problemCodes(svc.logs()),
          ...figures(result),
        },
        null,
        1,
      ),
    );
    expectExactlyOnce(result, expect);
    expect(counters.received).toBe(counters.accounted);
    expect(metrics.login_etl_rows_inserted_total).toBe(sent.valid.size);
    // A dead letter is counted when the DLQ confirmed it; one whose confirmation was cut off by the
    // outage is sent again, so the DLQ may hold a repeat the counter does not.
    const rejected = metrics.login_etl_messages_rejected_total ?? 0;
    expect(rejected).toBeGreaterThanOrEqual(sent.malformed.size);
    expect(rejected).toBeLessThanOrEqual(sent.malformed.size + result.dlqRepeats);
    expect(shutdownMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
  });
});
