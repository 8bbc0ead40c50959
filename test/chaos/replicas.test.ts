// Many consumers on one queue and one database, the way a Deployment scaled by
// KEDA runs them: four `login-etl run` processes share 20,000 messages (1 %
// malformed) while single replicas are killed with SIGKILL and started again,
// and once a rolling restart SIGTERMs each replica in turn. Nothing may be lost
// or doubled, every malformed message must reach the DLQ, and every replica that
// stopped gracefully must account for every delivery it received. Then the
// same load is run with 1, 2 and 4 replicas, and throughput and CPU per message
// are reported (measured, not asserted).
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seededRandom } from "../../src/local/sampleEvents.ts";
import type { Summary } from "../../src/pipeline/contracts.ts";
import {
  audit,
  CHAOS_SEED,
  type ChaosStack,
  emptySent,
  expectExactlyOnce,
  figures,
  queueCounts,
  report,
  rowCount,
  type Sent,
  sendSynthetic,
  sleep,
  startChaosStack,
  waitFor,
  waitForRows,
} from "./harness.ts";
import { type Service, startService } from "./service.ts";

const MESSAGES = 20_000;
const REPLICAS = 4;
const KILLS = 6;
const VISIBILITY_TIMEOUT_S = 2;

const SERVICE_ENV = {
  LOGIN_ETL_WAIT_TIME_SECONDS: "2",
  LOGIN_ETL_SHUTDOWN_TIMEOUT_MS: "10000",
  // The "stopped" summary is an info line.
  LOGIN_ETL_LOG_LEVEL: "info",
};

let stack: ChaosStack;

beforeAll(async () => {
  stack = await startChaosStack({ visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_S, migrate: true });
});
afterAll(async () => {
  await stack?.close();
});

type Stopped = Pick<
  Summary,
  "received" | "inserted" | "duplicates" | "rejected" | "left_on_queue" | "released"
>;

/** The "stopped" summary a replica logs on a graceful exit. */
function stoppedSummary(svc: Service): Stopped {
  const line = svc.logs().find((l) => l.msg === "stopped");
  if (!line) throw new Error("no stopped line");
  return line as unknown as Stopped;
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuSeconds(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  // utime and stime are fields 14 and 15 of stat; 2 and 3 were cut off with the name.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function settled(replicas: Service[], validCount: number): Promise<void> {
  await waitForRows(stack, "every valid row written", validCount, 180_000, 250);
  await waitFor(
    "queue empty and nothing in flight on any replica",
    async () => ({
      q: await queueCounts(stack),
      inFlight: (await Promise.all(replicas.map((r) => r.metrics()))).reduce(
        (n, m) => n + (m.login_etl_messages_in_flight ?? 0),
        0,
      ),
    }),
    ({ q, inFlight }) => q.visible === 0 && q.inFlight === 0 && inFlight === 0,
    90_000,
    250,
  );
}

describe("four replicas on one queue", () => {
  it("lose and double nothing through SIGKILLs and a rolling restart, and each graceful stop accounts for what it received", async () => {
    const sent: Sent = emptySent();
    const random = seededRandom(CHAOS_SEED);
    const replicas = await Promise.all(
      Array.from({ length: REPLICAS }, () => startService(stack, SERVICE_ENV)),
    );
    // Half arrives while replicas are being killed, half just before the rolling restart:
    // both kinds of stop meet replicas at work.
    const sending = sendSynthetic(stack, sent, {
      count: MESSAGES / 2,
      malformedRatio: 0.01,
      seed: CHAOS_SEED,
    });
    const graceful: Stopped[] = [];
    let kills = 0;
    let killedMidWork = 0;
    for (; kills < KILLS; kills++) {
      await sleep(100 + random() * 500);
      const index = Math.floor(random() * REPLICAS);
      const victim = replicas[index] as Service;
      // While rows were still to be written: the kill met the replicas at work.
      if ((await rowCount(stack)) < sent.valid.size) killedMidWork++;
      victim.child.kill("SIGKILL");
      await victim.done;
      replicas[index] = await startService(stack, SERVICE_ENV);
    }
    await sending;
    await sendSynthetic(stack, sent, { count: MESSAGES / 2, malformedRatio: 0.01, seed: CHAOS_SEED + 1 });
    // A rolling restart, as a new version rolls out: each replica SIGTERMed in turn, then replaced.
    let rollingShutdownMs = 0;
    for (let i = 0; i < REPLICAS; i++) {
      const { exit, shutdownMs } = await (replicas[i] as Service).terminate();
      expect(exit.code, exit.stderr.slice(-2000)).toBe(0);
      rollingShutdownMs = Math.max(rollingShutdownMs, shutdownMs);
      graceful.push(stoppedSummary(replicas[i] as Service));
      replicas[i] = await startService(stack, SERVICE_ENV);
    }
    await settled(replicas, sent.valid.size);
    for (const svc of replicas) {
      const { exit } = await svc.terminate();
      expect(exit.code).toBe(0);
      graceful.push(stoppedSummary(svc));
    }

    const result = await audit(stack, sent);
    report("four replicas", {
      seed: CHAOS_SEED,
      messages: MESSAGES,
      kills,
      killedMidWork,
      rollingRestartSlowestShutdownMs: Math.round(rollingShutdownMs),
      gracefulStops: graceful.length,
      insertedByGracefulStops: graceful.reduce((n, s) => n + s.inserted, 0),
      ...figures(result),
    });
    expectExactlyOnce(result, expect);
    // Each graceful life settled everything it received: nothing was in flight at its exit.
    for (const s of graceful) {
      expect(s.received).toBe(s.inserted + s.duplicates + s.rejected + s.left_on_queue + s.released);
    }
    // Killed lives took their counters with them; the rows they wrote are the rest.
    expect(graceful.reduce((n, s) => n + s.inserted, 0)).toBeLessThanOrEqual(await rowCount(stack));
  });
});

describe("scaling on this machine", () => {
  it("reports throughput and CPU per message for 1, 2 and 4 replicas (correctness asserted, figures reported)", async () => {
    const figuresByReplicas: Record<string, unknown> = {};
    for (const count of [1, 2, 4]) {
      await stack.freshQueues();
      await stack.db.query("TRUNCATE user_logins");
      const sent: Sent = emptySent();
      await sendSynthetic(stack, sent, { count: MESSAGES, malformedRatio: 0.01, seed: 7 + count });
      const started = performance.now();
      const replicas = await Promise.all(
        Array.from({ length: count }, () => startService(stack, SERVICE_ENV)),
      );
      await settled(replicas, sent.valid.size);
      const seconds = (performance.now() - started) / 1000;
      const cpu = replicas.reduce((n, r) => n + cpuSeconds(r.child.pid), 0);
      for (const r of replicas) expect((await r.terminate()).exit.code).toBe(0);
      expectExactlyOnce(await audit(stack, sent), expect);
      figuresByReplicas[`${count} replica(s)`] = {
        msgPerSecond: Math.round(MESSAGES / seconds),
        cpuMicrosecondsPerMessage: Math.round((cpu / MESSAGES) * 1e6),
      };
    }
    report("scaling (start-up included)", figuresByReplicas);
  });
});
