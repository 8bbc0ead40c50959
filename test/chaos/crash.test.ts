// Crash campaign: `login-etl drain` (the real binary) killed with SIGKILL at
// random moments while it works through 25 000 messages, restarted each time,
// then drained to the end. A kill can land anywhere: during start-up and
// migrations, between COPY and COMMIT, between COMMIT and DeleteMessageBatch,
// between the DLQ send and the delete. Whatever it hits, every valid message
// ends up in user_logins exactly once and every malformed one on the DLQ.
// The PII vault is on (CHAOS_VAULT=0 turns it off): a kill between the rows
// and their sealed entries must leave both or neither (§3b).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seededRandom } from "../../src/local/sampleEvents.ts";
import { type CliResult, lastJsonLine, startCli } from "../helpers/cli.ts";
import { recoveryKeyFiles } from "../helpers/vault.ts";
import {
  audit,
  CHAOS_SEED,
  type ChaosStack,
  DRAIN_ARGS,
  drain,
  emptySent,
  expectExactlyOnce,
  figures,
  queueCounts,
  report,
  rowCount,
  sendSynthetic,
  sleep,
  startChaosStack,
  waitFor,
} from "./harness.ts";
import { auditVault } from "./vaultAudit.ts";

const MESSAGES = 25_000;
const MALFORMED_RATIO = 0.01;
const KILLS = 12;
/** Kills at a random moment 0-1.5 s from spawn (start-up, migrations, first receives); on top of KILLS. */
const EARLY_KILLS = 3;
/** Messages added when the backlog runs out before KILLS mid-work kills, at most MAX_TOP_UPS times. */
const TOP_UP = 5_000;
const MAX_TOP_UPS = 4;
// Short, so that what a killed process held comes back within seconds.
const VISIBILITY_TIMEOUT_S = 2;
const VAULT = process.env.CHAOS_VAULT !== "0";
const recovery = recoveryKeyFiles("chaos");

let stack: ChaosStack;
const sent = emptySent();

beforeAll(async () => {
  stack = await startChaosStack({ visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_S });
  await sendSynthetic(stack, sent, { count: MESSAGES, malformedRatio: MALFORMED_RATIO, seed: CHAOS_SEED });
});

afterAll(async () => {
  await stack?.close();
});

/** Rows so far; 0 before the first life has created the table. */
async function rows(): Promise<number> {
  try {
    return await rowCount(stack);
  } catch (err) {
    if ((err as { code?: string }).code === "42P01") return 0;
    throw err;
  }
}

describe("crash campaign: drain killed with SIGKILL at random moments", () => {
  it("stores every valid message exactly once and dead-letters every malformed one", async () => {
    const random = seededRandom(CHAOS_SEED);
    const env = stack.env({
      LOGIN_ETL_WAIT_TIME_SECONDS: "1",
      LOGIN_ETL_LOG_LEVEL: "error",
      ...(VAULT ? { PII_VAULT_PUBLIC_KEY: recovery.publicJson } : {}),
    });
    const started = performance.now();
    let midKills = 0;
    let earlyKills = 0;
    let lives = 0;
    const restartsMs: number[] = [];
    let perMs = 2; // rows per ms of a life, refined as lives go by
    let topUps = 0;

    // Bounded: lives that finish on their own (a short backlog) must not loop forever.
    while (midKills < KILLS && lives < 60) {
      const early = earlyKills < EARLY_KILLS && lives % 4 === 2;
      const before = await rows();
      const spawnedAt = performance.now();
      const { child, done } = startCli(DRAIN_ARGS, env);
      stack.own(child);
      lives++;
      let result: CliResult | null = null;
      void done.then((r) => {
        result = r;
      });

      let progressAt: number | null = null;
      if (early) {
        await sleep(random() * 1500);
      } else {
        // Wait for this life's first commit, then kill at a random moment. The
        // window shrinks as the backlog does, so that every kill still lands mid-work.
        await waitFor("first commit of a life", rows, (n) => n > before || result !== null, 60_000, 20);
        progressAt = performance.now();
        restartsMs.push(progressAt - spawnedAt);
        const backlog = sent.valid.size - before;
        const windowMs = Math.min(1500, Math.max(50, backlog / (KILLS - midKills + 1) / perMs));
        await sleep(random() * windowMs);
      }
      if (result === null) child.kill("SIGKILL");
      const r = await done;
      if (r.signal === "SIGKILL") {
        const after = await rows();
        if (progressAt !== null && after > before) {
          midKills++;
          perMs = Math.max(0.2, (after - before) / Math.max(1, performance.now() - progressAt));
        } else earlyKills++;
      } else {
        // It finished before the kill (or just as it was sent): a normal end, which must be a clean one.
        expect(r.code, r.stderr).toBe(0);
        if ((await queueCounts(stack)).visible === 0) {
          // The backlog ran out before enough kills landed mid-work (a faster loader, a
          // lucky draw): top it up, so that the campaign still makes every kill it promises.
          if (midKills >= KILLS || topUps >= MAX_TOP_UPS) break;
          topUps++;
          await sendSynthetic(stack, sent, {
            count: TOP_UP,
            malformedRatio: MALFORMED_RATIO,
            seed: CHAOS_SEED + topUps,
          });
        }
      }
    }

    // Then drain to the end. What the last victims held returns when its
    // visibility timeout (perhaps extended once by the heartbeat) runs out, so a
    // drain may stop while some is still invisible: drain again until nothing is left.
    let finalDrains = 0;
    let finalDuplicates = 0;
    const finalStarted = performance.now();
    for (;;) {
      const r = await drain(env);
      finalDrains++;
      expect(r.code, r.stderr).toBe(0);
      const summary = lastJsonLine(r.stdout) as { released: number; duplicates: number };
      expect(summary.released).toBe(0);
      finalDuplicates += summary.duplicates;
      const counts = await queueCounts(stack);
      if (counts.visible === 0 && counts.inFlight === 0) break;
      if (performance.now() - finalStarted > 120_000)
        throw new Error("queue not empty after 120 s of drains");
      await sleep(500);
    }

    const result = await audit(stack, sent);
    const vault = VAULT ? await auditVault(stack.db, recovery.privateFile) : null;
    report("crash campaign", {
      vault,
      seed: CHAOS_SEED,
      messages: MESSAGES + topUps * TOP_UP,
      topUps,
      killsSurvived: midKills + earlyKills,
      // After the life's first commit, at a random moment within the window.
      killsMidWork: midKills,
      // At a random moment 0-1.5 s from spawn: mostly start-up and migrations.
      killsFromSpawn: earlyKills,
      lives,
      finalDrains,
      // Committed by a victim that died before its delete; seen again, no second row.
      finalDrainDuplicates: finalDuplicates,
      firstCommitAfterRestartMs: {
        min: Math.round(Math.min(...restartsMs)),
        max: Math.round(Math.max(...restartsMs)),
      },
      seconds: Math.round((performance.now() - started) / 1000),
      ...figures(result),
    });
    expect(midKills).toBeGreaterThanOrEqual(KILLS);
    // Dead letters: each malformed message at least once, nothing else; repeats
    // (a kill between the DLQ send and the delete) are reported, not failed.
    expectExactlyOnce(result, expect);
    if (vault) {
      expect(vault.entries).toBeGreaterThan(0);
      expect(vault.dataKeys).toBeGreaterThanOrEqual(lives > 1 ? 2 : 1);
      expect(vault).toMatchObject({ rowsWithoutEntry: 0, entriesWithoutRow: 0, sampleMismatches: 0 });
    }
  });
});
