// PostgreSQL stopped for several seconds under a running `login-etl run`
// while messages keep arriving, then started again (same port, same data).
// The service must hold what it has (no delete without a commit), stop
// receiving at its in-flight bound instead of spinning, resume by itself, and
// end with every message exactly once and counters that reconcile.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/ops/logger.ts";
import { createPool } from "../../src/postgres/postgresPool.ts";
import { createPostgresSink } from "../../src/postgres/postgresSink.ts";
import { DEFAULTS } from "../../src/settings.ts";
import type { LoginRow } from "../../src/transform/toRow.ts";
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

const WAVES = 12;
const WAVE_SIZE = 1_000;
const OUTAGE_MS = 6_000;
const MAX_IN_FLIGHT = 1_000;
// Shorter than the outage: only the visibility heartbeat keeps the held messages from coming back.
const VISIBILITY_TIMEOUT_S = 4;
const SHUTDOWN_TIMEOUT_MS = 15_000;

let stack: ChaosStack;
const sent = emptySent();

beforeAll(async () => {
  stack = await startChaosStack({ visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_S, migrate: true });
});

afterAll(async () => {
  await stack?.close();
});

describe("PostgreSQL stopped under the sink", () => {
  it("does not crash the process when a connection the sink holds dies (unhandled 'error' on a checked-out pg client)", async () => {
    // Bug: the pool listens for 'error' only on idle clients; PostgreSQL stopping
    // under a COPY (EPIPE) emitted 'error' on the held client and killed the process.
    const pool = createPool(
      { databaseUrl: stack.postgres.databaseUrl, schema: "public", poolSize: 3 },
      createLogger("silent"),
    );
    const sink = createPostgresSink(pool);
    const row = (): LoginRow => ({
      message_id: randomUUID(),
      user_id: "chaos",
      device_type: "ios",
      masked_ip: "h1.k1.x",
      masked_device_id: "h1.k1.y",
      locale: null,
      app_version: 10000,
      app_version_text: "1.0",
      create_date: "2024-01-01",
    });
    let committed = 0;
    const failures: string[] = [];
    for (let round = 0; round < 4; round++) {
      let stop = false;
      const writers = Array.from({ length: 3 }, async () => {
        while (!stop) {
          try {
            await sink.write(Array.from({ length: 200 }, row));
            committed++;
          } catch (err) {
            failures.push(String((err as { code?: string }).code));
            await sleep(20);
          }
        }
      });
      await sleep(200 + Math.random() * 300);
      await stack.postgres.pause();
      await sleep(300);
      await stack.postgres.resume();
      // Back to work after the restart, on fresh connections.
      const before = committed;
      try {
        await waitFor(
          "a commit after the restart",
          async () => committed,
          (n) => n > before,
          30_000,
        );
      } finally {
        stop = true;
        await Promise.all(writers);
      }
    }
    await pool.end();
    expect(failures.length).toBeGreaterThan(0);
    expect(new Set(failures)).toEqual(new Set(["DB_UNREACHABLE"]));
    await stack.db.query("TRUNCATE user_logins");
  });
});

describe("PostgreSQL stopped mid-run", () => {
  it("loses and doubles nothing, recovers without a restart, and its counters reconcile", async () => {
    const svc = await startService(stack, {
      LOGIN_ETL_WAIT_TIME_SECONDS: "2",
      LOGIN_ETL_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT),
      LOGIN_ETL_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    });
    // A stream: waves of messages keep arriving, before, during and after the outage.
    const producing = (async () => {
      for (let wave = 0; wave < WAVES; wave++) {
        await sendSynthetic(stack, sent, { count: WAVE_SIZE, malformedRatio: 0.01, seed: 1000 + wave });
        await sleep(400);
      }
    })();
    producing.catch(() => {}); // awaited below; a failure surfaces there

    await waitForRows(stack, "rows before the outage", 2_000);
    const stopStarted = performance.now();
    await stack.postgres.pause();
    const down = performance.now();

    // While it is down: alive, not ready, receiving up to its in-flight bound and
    // then holding (no receive-and-release loop). The outage lasts OUTAGE_MS, and
    // at least two seconds at the bound, so that back-pressure is really tested.
    const samples: Array<{ atMs: number; inFlight: number; received: number; released: number }> = [];
    let readyz = 0;
    let atBoundSince: number | null = null;
    // Each poller (the default count) may still have a receive of ten under way.
    const nearBound = MAX_IN_FLIGHT - Number(DEFAULTS.pollers) * 10;
    while (
      performance.now() - down < OUTAGE_MS ||
      atBoundSince === null ||
      performance.now() - atBoundSince < 2_000
    ) {
      if (performance.now() - down > 60_000) throw new Error("the in-flight bound was not reached in 60 s");
      const m = await svc.metrics();
      const sample = {
        atMs: performance.now(),
        inFlight: m.login_etl_messages_in_flight ?? 0,
        received: m.login_etl_messages_received_total ?? 0,
        released: m.login_etl_messages_released_total ?? 0,
      };
      samples.push(sample);
      if (atBoundSince === null && sample.inFlight >= nearBound) atBoundSince = sample.atMs;
      readyz = await svc.status("/readyz");
      await sleep(250);
    }
    expect(svc.exited()).toBeNull();
    expect(await svc.status("/livez")).toBe(200);
    expect(readyz).toBe(503);
    const maxInFlightSeen = Math.max(...samples.map((s) => s.inFlight));
    expect(maxInFlightSeen).toBeLessThanOrEqual(MAX_IN_FLIGHT);
    expect(samples.map((s) => s.released)).toEqual(samples.map(() => 0));
    const atBound = samples.filter((s) => s.atMs >= (atBoundSince as number));
    // Only dead letters (no database needed) settle at the bound and make room for new receipts.
    const receivedAtBound = (atBound.at(-1)?.received ?? 0) - (atBound[0]?.received ?? 0);

    const rowsAtStop = (await svc.metrics()).login_etl_rows_inserted_total ?? 0;
    await stack.postgres.resume();
    const up = performance.now();
    await waitFor(
      "first commit after PostgreSQL is back",
      () => svc.metrics(),
      (m) => (m.login_etl_rows_inserted_total ?? 0) > rowsAtStop,
      60_000,
      50,
    );
    const recoveryMs = performance.now() - up;

    await producing;
    const total = sent.valid.size + sent.malformed.size;
    const metrics = await waitUntilSettled(stack, svc, sent.valid.size, 60_000);
    expect(svc.exited()).toBeNull(); // recovered on its own: the same process did all the work

    const { exit, shutdownMs } = await svc.terminate();
    expect(exit.code, exit.stderr).toBe(0);

    const result = await audit(stack, sent);
    const counters = reconcile(metrics);
    report("postgres outage", {
      messages: total,
      outageMs: Math.round(up - down),
      stopTookMs: Math.round(down - stopStarted),
      recoveryMs: Math.round(recoveryMs),
      maxInFlightSeen,
      receivedWhileAtBound: receivedAtBound,
      secondsAtBound: Math.round(((atBound.at(-1)?.atMs ?? 0) - (atBound[0]?.atMs ?? 0)) / 100) / 10,
      shutdownMs: Math.round(shutdownMs),
      counters: {
        ...counterFigures(metrics),
        visibilityExtended: metrics.login_etl_visibility_extensions_total,
      },
      problems: problemCodes(svc.logs()),
      ...figures(result),
    });
    expectExactlyOnce(result, expect);
    expect(result.dlqRepeats).toBe(0); // SQS never failed: a dead letter is sent once
    expect(counters.received).toBe(counters.accounted);
    // Each valid message committed once; a commit whose reply was lost in the outage comes back as a duplicate.
    const inserted = metrics.login_etl_rows_inserted_total ?? 0;
    expect(inserted).toBeLessThanOrEqual(sent.valid.size);
    expect(inserted + (metrics.login_etl_messages_duplicate_total ?? 0)).toBeGreaterThanOrEqual(
      sent.valid.size,
    );
    expect(metrics.login_etl_messages_rejected_total).toBe(sent.malformed.size);
    expect(shutdownMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
  });
});
