// Settling a batch: commit the rows, hand rejections to the dead-letter queue,
// and only then delete the deliveries from the source. Infrastructure failures
// are retried with back-off until the shutdown deadline; after it, what was
// not written is released (made visible again), never deleted.
import { isEtlError } from "../errors.ts";
import type { Rejection } from "../transform/loginEvent.ts";
import type { LoginRow } from "../transform/toRow.ts";
import { createAcknowledger } from "./acknowledge.ts";
import { backoffDelayMs, sleep } from "./backoff.ts";
import type { DeadLetter, Delivery, Outcome } from "./contracts.ts";
import { createDeadLetterer } from "./deadLettering.ts";
import { beforeDeadline } from "./deadline.ts";
import type { PipelineDeps, PipelineOptions, Summary } from "./pipeline.ts";

export interface Item {
  readonly delivery: Delivery;
  readonly outcome: Outcome;
  readonly receivedAtMs: number;
}

/** What the parts of settling (writing, acknowledging, dead-lettering) share. */
export interface Settling {
  readonly deps: PipelineDeps;
  readonly options: PipelineOptions;
  readonly summary: Summary;
  readonly deadline: AbortSignal;
  /** Deliveries in hand (being written or dead-lettered): the heartbeat keeps them invisible. */
  readonly writing: Set<Delivery>;
  /** Called with how many deliveries left the in-flight count (0 when only an ack finished). */
  readonly onSettled: (count: number) => void;
}

interface WriteOutcome {
  inserted: number;
  duplicates: number;
  committed: Item[];
  refused: Item[];
  unwritten: Item[];
}

export function createSettler(
  deps: PipelineDeps,
  options: PipelineOptions,
  summary: Summary,
  deadline: AbortSignal,
  onSettled: (count: number) => void,
) {
  const writing = new Set<Delivery>();
  const settling: Settling = { deps, options, summary, deadline, writing, onSettled };
  const { sink, metrics, log } = deps;
  const acknowledger = createAcknowledger(settling);
  const { ack, releaseAtDeadline } = acknowledger;
  const { deadLetter } = createDeadLetterer(settling, acknowledger);

  const rowOf = (item: Item) => (item.outcome as { row: LoginRow }).row;

  async function writeItems(items: Item[], out: WriteOutcome): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (deadline.aborted) {
        out.unwritten.push(...items);
        return;
      }
      const startedMs = performance.now();
      try {
        // A write still running at the deadline may yet commit: the redelivery is then a duplicate, never a loss.
        const result = await beforeDeadline(sink.write(items.map(rowOf)), deadline);
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
        const code = isEtlError(err) ? err.code : "DB_WRITE_FAILED";
        metrics.errors.inc({ stage: "writing", code });
        if (code === "DB_ROW_REFUSED") {
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
        log.warn(
          {
            code,
            rows: items.length,
            attempt: attempt + 1,
            retryInMs: delayMs,
            ...(isEtlError(err) ? err.context : {}),
          },
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
    const out: WriteOutcome = { inserted: 0, duplicates: 0, committed: [], refused: [], unwritten: [] };
    await writeItems([...unique.values()], out);
    if (out.unwritten.length) {
      const unwrittenIds = new Set(out.unwritten.map((i) => i.delivery.messageId));
      const unwritten = [...out.unwritten, ...repeats.filter((r) => unwrittenIds.has(r.delivery.messageId))];
      await releaseAtDeadline(unwritten.map((i) => i.delivery));
    }
    const committedIds = new Set(out.committed.map((i) => i.delivery.messageId));
    const committedRepeats = repeats.filter((r) => committedIds.has(r.delivery.messageId));
    const done = [...out.committed, ...committedRepeats];
    if (done.length) {
      summary.inserted += out.inserted;
      summary.duplicates += out.duplicates + committedRepeats.length;
      metrics.inserted.inc(out.inserted);
      metrics.duplicates.inc(out.duplicates + committedRepeats.length);
      const now = Date.now();
      for (const item of out.committed)
        metrics.lagSeconds.observe(Math.max(0, now - item.delivery.sentAtMs) / 1000);
      onSettled(done.length);
      ack(done.map((i) => i.delivery));
    }
    const refusedIds = new Set(out.refused.map((i) => i.delivery.messageId));
    const refused = [...out.refused, ...repeats.filter((r) => refusedIds.has(r.delivery.messageId))];
    if (refused.length) {
      log.warn(
        { code: "DB_ROW_REFUSED", messageIds: refused.map((i) => i.delivery.messageId) },
        "database refused rows",
      );
      await deadLetter(
        refused.map((i) => ({
          delivery: i.delivery,
          rejection: {
            code: "invalid_field",
            detail: "the database refused the row (a value it cannot store)",
          },
        })),
      );
    }
  }

  return {
    async settle(chunk: Item[]): Promise<void> {
      for (const item of chunk) writing.add(item.delivery);
      try {
        const rows: Item[] = [];
        const letters: DeadLetter[] = [];
        for (const item of chunk) {
          if ("row" in item.outcome) rows.push(item);
          else letters.push({ delivery: item.delivery, rejection: item.outcome.rejection as Rejection });
        }
        await Promise.all([writeRows(rows), deadLetter(letters)]);
      } finally {
        for (const item of chunk) writing.delete(item.delivery);
      }
    },
    release: acknowledger.release,
    abandon: acknowledger.abandon,
    writing: () => [...writing],
    acking: acknowledger.acking,
    releasedAtDeadline: acknowledger.releasedAtDeadline,
    idle: acknowledger.idle,
  };
}
