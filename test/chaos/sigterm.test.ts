// SIGTERM under load, the way an orchestrator stops the service: `login-etl
// run` must stop receiving (aborting its 20 s long polls), write and delete
// what it holds, hand the rest back to the queue at once, and exit 0 inside
// its shutdown deadline; a second run finishes the rest. When the database is
// down at that moment, the deadline wins: everything held is released, exit 1.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { lastJsonLine } from "../helpers/cli.ts";
import {
  audit,
  type ChaosStack,
  drain,
  emptySent,
  expectExactlyOnce,
  figures,
  queueCounts,
  report,
  rowCount,
  type Sent,
  sendSynthetic,
  startChaosStack,
  waitFor,
  waitForRows,
} from "./harness.ts";
import { type Service, startService } from "./service.ts";

// Long enough that a message still invisible after the exit can only be one
// the service kept instead of releasing it.
const VISIBILITY_TIMEOUT_S = 60;

let stack: ChaosStack;
let sent: Sent;

beforeAll(async () => {
  stack = await startChaosStack({ visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_S, migrate: true });
});

beforeEach(async () => {
  await stack.freshQueues();
  await stack.db.query("TRUNCATE user_logins");
  sent = emptySent();
});

afterAll(async () => {
  await stack?.close();
});

/** Where every sent message is right after the exit: a row, a dead letter, or visible on the queue. */
async function whereabouts() {
  const queue = await queueCounts(stack);
  const dlq = await queueCounts(stack, stack.dlqUrl);
  return { rows: await rowCount(stack), deadLetters: dlq.visible, ...queue };
}

interface RunSummary {
  received: number;
  inserted: number;
  duplicates: number;
  rejected: number;
  released: number;
}

/** The summary `run` logs when it stops (info level, stderr). */
function stoppedSummary(svc: Service): RunSummary | undefined {
  return svc.logs().find((l) => l.msg === "stopped") as RunSummary | undefined;
}

describe("SIGTERM under load", () => {
  it("exits 0 inside the deadline, loses nothing, and the next run finishes the rest", async () => {
    const shutdownTimeoutMs = 10_000;
    await sendSynthetic(stack, sent, { count: 8_000, malformedRatio: 0.01, seed: 3000 });
    const total = sent.valid.size + sent.malformed.size;
    const svc = await startService(stack, {
      LOGIN_ETL_LOG_LEVEL: "info",
      LOGIN_ETL_SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs),
    });
    await waitForRows(stack, "rows before SIGTERM", 2_000, 60_000, 20);
    const inFlightAtStop = (await svc.metrics()).login_etl_messages_in_flight ?? 0;

    const { exit, shutdownMs } = await svc.terminate();
    expect(exit.code, exit.stderr).toBe(0);
    expect(shutdownMs).toBeLessThan(shutdownTimeoutMs);

    // Everything it had received is committed and deleted, or visible again: none left invisible.
    const after = await whereabouts();
    expect(after.inFlight).toBe(0);
    expect(after.rows + after.deadLetters + after.visible).toBe(total);
    const summary = stoppedSummary(svc);
    expect(summary).toBeDefined();
    const s = summary as RunSummary;
    expect(s.received).toBe(s.inserted + s.duplicates + s.rejected + s.released);
    expect(s.inserted).toBe(after.rows);

    const second = await drain(stack.env());
    expect(second.code, second.stderr).toBe(0);
    const drained = lastJsonLine(second.stdout) as Record<string, number>;
    const result = await audit(stack, sent);
    report("sigterm under load", {
      messages: total,
      inFlightAtStop,
      shutdownMs: Math.round(shutdownMs),
      firstRun: {
        received: s.received,
        inserted: s.inserted,
        rejected: s.rejected,
        released: s.released,
      },
      afterExit: after,
      secondRun: {
        received: drained.received,
        inserted: drained.inserted,
        duplicates: drained.duplicates,
      },
      ...figures(result),
    });
    expectExactlyOnce(result, expect);
    expect(result.dlqRepeats).toBe(0);
    // The second run saw each remaining message once: nothing the first one finished comes back.
    expect(drained.received).toBe(after.visible);
    expect(drained.duplicates).toBe(0);
  });

  it("releases what it holds at the deadline and exits 1 when PostgreSQL is down, and loses nothing", async () => {
    const shutdownTimeoutMs = 3_000;
    await sendSynthetic(stack, sent, { count: 3_000, malformedRatio: 0.01, seed: 3001 });
    const svc = await startService(stack, {
      LOGIN_ETL_LOG_LEVEL: "info",
      LOGIN_ETL_SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs),
      // The long polls the stop aborts live on in the emulator until their wait time ends, and
      // one still alive when the deadline makes messages visible again takes up to ten of them
      // (invisible for a visibility timeout: late, not lost). Polls of 1 s are over by then,
      // so what is asserted below is the service's release alone.
      LOGIN_ETL_WAIT_TIME_SECONDS: "1",
    });
    await waitForRows(stack, "rows before the outage", 500, 60_000, 20);
    await stack.postgres.pause();
    // More arrive while the database is down, so there is work in hand however fast the first went.
    await sendSynthetic(stack, sent, { count: 1_000, malformedRatio: 0.01, seed: 3002 });
    const total = sent.valid.size + sent.malformed.size;
    try {
      const held = await waitFor(
        "messages held while PostgreSQL is down",
        () => svc.metrics(),
        (m) => (m.login_etl_messages_in_flight ?? 0) > 0,
        30_000,
      );
      const { exit, shutdownMs } = await svc.terminate();
      expect(exit.code).toBe(1);
      expect(exit.stderr).toContain("SHUTDOWN_DEADLINE");
      expect(shutdownMs).toBeGreaterThanOrEqual(shutdownTimeoutMs);
      // Released at the deadline, not left to its 60 s visibility timeout.
      const queue = await queueCounts(stack);
      expect(queue.inFlight).toBe(0);
      report(
        "sigterm at the deadline",
        {
          inFlightAtStop: held.login_etl_messages_in_flight,
          shutdownMs: Math.round(shutdownMs),
          queue,
          stopped: stoppedSummary(svc) ?? null,
        },
        0,
      );
    } finally {
      await stack.postgres.resume();
    }
    const after = await whereabouts();
    expect(after.rows + after.deadLetters + after.visible).toBe(total);

    const second = await drain(stack.env());
    expect(second.code, second.stderr).toBe(0);
    const result = await audit(stack, sent);
    report("sigterm at the deadline, after the second run", figures(result));
    expectExactlyOnce(result, expect);
  });
});
