// Settling a batch: commit the rows, hand rejections to the dead-letter lane,
// and only then delete the deliveries from the source. Infrastructure failures
// are retried with back-off until the shutdown deadline; after it, what was
// not written is released (made visible again), never deleted. A failure that
// retrying cannot fix (a revoked grant, a schema that cannot take the rows)
// stops the pipeline instead of looping.
import { codeOf, contextOf, isEtlError } from "../errors.ts";
import type { Rejection } from "../transform/loginEvent.ts";
import type { LoginRow } from "../transform/toRow.ts";
import { createAcknowledger } from "./acknowledge.ts";
import { backoffDelayMs, sleep } from "./backoff.ts";
import type { DeadLetter, Item } from "./contracts.ts";
import { createDeadLetterer } from "./deadLettering.ts";
import { beforeDeadline } from "./deadline.ts";
import type { SettleContext } from "./settleContext.ts";

interface WriteOutcome {
  inserted: number;
  duplicates: number;
  committed: Item[];
  refused: Item[];
  unwritten: Item[];
  /** A failure retrying cannot fix; what it caught is in `unwritten`. */
  fatal: unknown;
}

export function createSettler(ctx: SettleContext) {
  const { deps, options, ledger, deadline, writing, progress, problems } = ctx;
  const { sink, metrics } = deps;
  const acknowledger = createAcknowledger(ctx);
  const { ack, releaseAtDeadline } = acknowledger;
  const deadLetterer = createDeadLetterer(ctx, acknowledger);

  const rowOf = (item: Item) => (item.outcome as { row: LoginRow }).row;

  async function writeItems(items: Item[], out: WriteOutcome): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (deadline.aborted || out.fatal) {
        out.unwritten.push(...items);
        return;
      }
      const startedMs = performance.now();
      try {
        // A write still running at the deadline may yet commit: the redelivery is then a duplicate, never a loss.
        const result = await beforeDeadline(sink.write(items.map(rowOf)), deadline);
        progress();
        if (result === null) {
          out.unwritten.push(...items);
          return;
        }
        metrics.writeSeconds.observe((performance.now() - startedMs) / 1000);
        metrics.batchRows.observe(items.length);
        out.inserted += result.inserted;
        out.duplicates += result.duplicates;
        out.committed.push(...items);
        return;
      } catch (err) {
        progress();
        // Every failed attempt counts in errors_total{stage="writing"}, whatever comes of it.
        const code = codeOf(err, "DB_WRITE_FAILED");
        if (isEtlError(err) && !err.retryable && code !== "DB_ROW_REFUSED") {
          // Its message is the run's fatal error, printed once at the top.
          problems.count("writing", code);
          out.fatal = err;
          out.unwritten.push(...items);
          return;
        }
        if (code === "DB_ROW_REFUSED") {
          // Logged once with the refused rows' ids (writeRows), when the halving found them.
          problems.count("writing", code);
          // Retrying cannot help; halve the batch until the refused rows stand alone.
          if (items.length === 1) {
            out.refused.push(...items);
            return;
          }
          const half = Math.ceil(items.length / 2);
          await writeItems(items.slice(0, half), out);
          await writeItems(items.slice(half), out);
          return;
        }
        const delayMs = backoffDelayMs(attempt, options.backoff);
        problems.report(
          "writing",
          code,
          { rows: items.length, attempt: attempt + 1, retryInMs: delayMs, ...contextOf(err) },
          "batch write failed; retrying",
        );
        await sleep(delayMs, deadline);
      }
    }
  }

  async function writeRows(items: Item[]): Promise<void> {
    if (items.length === 0) return;
    // The same message twice in one batch (a redelivery that overtook the first): one row, both acked.
    const unique = new Map<string, Item>();
    const repeats: Item[] = [];
    for (const item of items) {
      if (unique.has(item.delivery.messageId)) repeats.push(item);
      else unique.set(item.delivery.messageId, item);
    }
    const out: WriteOutcome = {
      inserted: 0,
      duplicates: 0,
      committed: [],
      refused: [],
      unwritten: [],
      fatal: null,
    };
    await writeItems([...unique.values()], out);
    if (out.unwritten.length) {
      const unwrittenIds = new Set(out.unwritten.map((i) => i.delivery.messageId));
      const unwritten = [...out.unwritten, ...repeats.filter((r) => unwrittenIds.has(r.delivery.messageId))];
      const deliveries = unwritten.map((i) => i.delivery);
      // Stopped by an error retrying cannot fix, the rest goes back at once for a fixed setup to take.
      await (out.fatal ? acknowledger.release(deliveries) : releaseAtDeadline(deliveries));
    }
    const committedIds = new Set(out.committed.map((i) => i.delivery.messageId));
    const committedRepeats = repeats.filter((r) => committedIds.has(r.delivery.messageId));
    const done = [...out.committed, ...committedRepeats];
    if (done.length) {
      const now = Date.now();
      for (const item of out.committed)
        metrics.lagSeconds.observe(Math.max(0, now - item.delivery.sentAtMs) / 1000);
      const deliveries = done.map((i) => i.delivery);
      ledger.committed(deliveries, out.inserted, out.duplicates + committedRepeats.length);
      ack(deliveries);
    }
    const refusedIds = new Set(out.refused.map((i) => i.delivery.messageId));
    const refused = [...out.refused, ...repeats.filter((r) => refusedIds.has(r.delivery.messageId))];
    if (refused.length) {
      // Each refused write attempt was counted as it failed (writeItems).
      problems.log(
        "writing",
        "DB_ROW_REFUSED",
        { messageIds: refused.map((i) => i.delivery.messageId) },
        "database refused rows",
      );
      deadLetterer.submit(
        refused.map((i) => ({
          delivery: i.delivery,
          rejection: {
            code: "invalid_field",
            detail: "the database refused the row (a value it cannot store)",
          },
        })),
      );
    }
    if (out.fatal) throw out.fatal;
  }

  return {
    /** Writes a batch; its rejections go to the dead-letter lane, which the rows never wait for. */
    async settle(chunk: Item[]): Promise<void> {
      const rows: Item[] = [];
      const letters: DeadLetter[] = [];
      for (const item of chunk) {
        // In hand until settled: ack, release and leaving on the queue each take it out again.
        writing.add(item.delivery);
        if ("row" in item.outcome) rows.push(item);
        else letters.push({ delivery: item.delivery, rejection: item.outcome.rejection as Rejection });
      }
      deadLetterer.submit(letters);
      await writeRows(rows);
    },
    release: acknowledger.release,
    abandon: acknowledger.abandon,
    settleIfLeftBefore: deadLetterer.settleIfLeftBefore,
    writing: () => [...writing],
    acking: acknowledger.acking,
    releasedAtDeadline: acknowledger.releasedAtDeadline,
    async idle(): Promise<void> {
      await deadLetterer.idle();
      await acknowledger.idle();
    },
    /**
     * Past the deadline the dead-letter lane only hands its letters back (one release each): its
     * end is near and must be waited for, or those messages stay hidden for a visibility timeout.
     */
    deadLettersHandedBack: () => deadLetterer.idle(),
  };
}
