// The SQS endpoint goes away under a running `login-etl run` and comes back:
// the emulator is stopped (its connections cut, long polls and deletes fail)
// and restarted on the same port from its on-disk state, messages in flight
// included. While it is away the service keeps what it holds, retries with
// back-off, and afterwards carries on by itself; nothing is lost or doubled.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  audit,
  type ChaosStack,
  counterFigures,
  emptySent,
  expectExactlyOnce,
  figures,
  reconcile,
  report,
  sendSynthetic,
  sleep,
  startChaosStack,
  waitFor,
  waitForRows,
} from "./harness.ts";
import { problemCodes, startService, waitUntilSettled } from "./service.ts";

const BEFORE = 5_000;
const AFTER = 2_000;
const OUTAGE_MS = 5_000;
// Shorter than the outage: the heartbeat cannot reach SQS meanwhile, so held
// messages come back after the restart and are seen again (duplicates, not doubles).
const VISIBILITY_TIMEOUT_S = 4;
const SHUTDOWN_TIMEOUT_MS = 15_000;

let stack: ChaosStack;
const sent = emptySent();

beforeAll(async () => {
  stack = await startChaosStack({
    visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_S,
    sqsPersistence: true,
    migrate: true,
  });
  await sendSynthetic(stack, sent, { count: BEFORE, malformedRatio: 0.01, seed: 2000 });
});

afterAll(async () => {
  await stack?.close();
});

describe("SQS endpoint restarted mid-run", () => {
  it("loses and doubles nothing, recovers without a restart, and its counters reconcile", async () => {
    const svc = await startService(stack, {
      LOGIN_ETL_WAIT_TIME_SECONDS: "2",
      LOGIN_ETL_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    });
    await waitForRows(stack, "rows before the outage", 1_500);
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
    const metrics = await waitUntilSettled(stack, svc, sent.valid.size, 90_000);
    expect(svc.exited()).toBeNull();

    const { exit, shutdownMs } = await svc.terminate();
    expect(exit.code, exit.stderr).toBe(0);

    const result = await audit(stack, sent);
    const counters = reconcile(metrics);
    report("sqs outage", {
      messages: sent.valid.size + sent.malformed.size,
      outageMs: Math.round(up - down),
      recoveryMs: Math.round(recoveryMs),
      shutdownMs: Math.round(shutdownMs),
      counters: { ...counterFigures(metrics), ackFailures: metrics.login_etl_ack_failures_total },
      problems: problemCodes(svc.logs()),
      ...figures(result),
    });
    expectExactlyOnce(result, expect);
    expect(counters.received).toBe(counters.accounted);
    expect(metrics.login_etl_rows_inserted_total).toBe(sent.valid.size);
    // A dead letter is counted when the DLQ confirmed it; one whose confirmation was cut off by the
    // outage is sent again, so the DLQ may hold a repeat the counter does not. While the DLQ was
    // down too, letters were left on the queue (outcome="left_on_queue") and came back.
    const rejected = metrics["login_etl_messages_rejected_total|outcome=dead_lettered"] ?? 0;
    expect(rejected).toBeGreaterThanOrEqual(sent.malformed.size);
    expect(rejected).toBeLessThanOrEqual(sent.malformed.size + result.dlqRepeats);
    expect(shutdownMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
  });
});
