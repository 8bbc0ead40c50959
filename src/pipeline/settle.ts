// Settling a batch: commit the rows, hand rejections to the dead-letter queue,
// and only then delete the deliveries from the source. Infrastructure failures
// are retried with back-off until the shutdown deadline; after it, what was
// not written is released (made visible again), never deleted.
import { isEtlError } from "../errors.ts";
import type { Rejection, RejectionCode } from "../transform/loginEvent.ts";
import type { LoginRow } from "../transform/toRow.ts";
import { backoffDelayMs, sleep } from "./backoff.ts";
import type { DeadLetter, Delivery, Outcome, Refusal } from "./contracts.ts";
import type { PipelineDeps, PipelineOptions, Summary } from "./pipeline.ts";

export interface Item {
  readonly delivery: Delivery;
  readonly outcome: Outcome;
  readonly receivedAtMs: number;
}

const ACK_ATTEMPTS = 4;
/** Sends of one letter the DLQ keeps refusing before it is left on the source queue. */
const DLQ_ATTEMPTS = 5;

/** `promise`'s value, or null if `signal` aborts first (a later rejection is then ignored). */
function beforeDeadline<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | null> {
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(null);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
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
  const { source, sink, deadLetters, metrics, log } = deps;
  const writing = new Set<Delivery>();
  const acks = new Set<Promise<void>>();
  let acking = 0;
  /** Deliveries released because the shutdown deadline came before they were written or dead-lettered. */
  let releasedAtDeadline = 0;

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
      releasedAtDeadline += unwritten.length;
      await release(unwritten.map((i) => i.delivery));
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

  function countRejected(letters: readonly DeadLetter[], outcome: "dead_lettered" | "left_on_queue") {
    const byReason: Partial<Record<RejectionCode, number>> = {};
    for (const { rejection } of letters) byReason[rejection.code] = (byReason[rejection.code] ?? 0) + 1;
    for (const [reason, n] of Object.entries(byReason)) {
      metrics.rejected.inc({ reason, outcome }, n);
      summary.rejected_by_reason[reason as RejectionCode] =
        (summary.rejected_by_reason[reason as RejectionCode] ?? 0) + n;
    }
    // The summary follows DESIGN §6: `rejected` counts what the DLQ accepted; the metric counts both, by outcome.
    if (outcome === "dead_lettered") summary.rejected += letters.length;
    else summary.left_on_queue += letters.length;
    return byReason;
  }

  /** Settles rejections without deleting them: they return after their visibility timeout. */
  function leaveOnQueue(letters: DeadLetter[], message: string): void {
    const reasons = countRejected(letters, "left_on_queue");
    log.warn(
      { code: "MESSAGE_REJECTED", reasons, messageIds: letters.map((l) => l.delivery.messageId) },
      message,
    );
    for (const l of letters) writing.delete(l.delivery);
    onSettled(letters.length);
  }

  async function deadLetter(letters: DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    if (!deadLetters) {
      leaveOnQueue(letters, "rejected messages left on the queue: no dead-letter queue is configured");
      return;
    }
    let remaining = letters;
    const refusedTimes = new Map<DeadLetter, number>();
    for (let attempt = 0; remaining.length; attempt++) {
      if (deadline.aborted) {
        releasedAtDeadline += remaining.length;
        await release(remaining.map((l) => l.delivery));
        return;
      }
      let refusals: Refusal[];
      try {
        const sent = await beforeDeadline(deadLetters.send(remaining), deadline);
        if (sent === null) continue; // past the deadline: the next turn releases them
        refusals = sent;
      } catch (err) {
        refusals = remaining.map((letter) => ({ letter, permanent: false, code: "request" }));
        const code = isEtlError(err) ? err.code : "DLQ_SEND_FAILED";
        metrics.errors.inc({ stage: "dead-lettering", code });
        log.warn(
          { code, count: remaining.length, ...(isEtlError(err) ? err.context : {}) },
          "dead-letter send failed",
        );
      }
      const refused = new Set(refusals.map((r) => r.letter));
      const accepted = remaining.filter((l) => !refused.has(l));
      if (accepted.length) {
        const reasons = countRejected(accepted, "dead_lettered");
        log.warn(
          { code: "MESSAGE_REJECTED", reasons, messageIds: accepted.map((l) => l.delivery.messageId) },
          "rejected messages sent to the dead-letter queue",
        );
        onSettled(accepted.length);
        ack(accepted.map((l) => l.delivery));
      }
      const entryRefusals = refusals.filter((r) => r.code !== "request");
      if (entryRefusals.length) {
        metrics.errors.inc({ stage: "dead-lettering", code: "DLQ_SEND_FAILED" }, entryRefusals.length);
        log.warn(
          {
            code: "DLQ_SEND_FAILED",
            sqsCodes: [...new Set(entryRefusals.map((r) => r.code))],
            messageIds: entryRefusals.map((r) => r.letter.delivery.messageId),
          },
          "the dead-letter queue refused messages",
        );
      }
      // A message the DLQ itself refuses (too large for it, a FIFO or KMS queue) would hold a
      // writer forever: leave it on the source queue instead, where the redrive policy or an
      // operator finds it. Never deleted.
      // An unreachable DLQ is retried for as long as it takes, like a database outage; only
      // the queue's own refusals of an entry count towards giving up.
      for (const r of entryRefusals) refusedTimes.set(r.letter, (refusedTimes.get(r.letter) ?? 0) + 1);
      const givenUp = entryRefusals
        .filter((r) => r.permanent || (refusedTimes.get(r.letter) ?? 0) >= DLQ_ATTEMPTS)
        .map((r) => r.letter);
      if (givenUp.length) leaveOnQueue(givenUp, "could not be dead-lettered; left on the source queue");
      const gaveUp = new Set(givenUp);
      remaining = refusals.map((r) => r.letter).filter((l) => !gaveUp.has(l));
      if (remaining.length) await sleep(backoffDelayMs(attempt, options.backoff), deadline);
    }
  }

  function ack(deliveries: Delivery[]): void {
    // Settled: no longer in hand, so the heartbeat stops extending them.
    for (const d of deliveries) writing.delete(d);
    acking += deliveries.length;
    const task = (async () => {
      let remaining = deliveries;
      for (let attempt = 0; attempt < ACK_ATTEMPTS && remaining.length; attempt++) {
        if (attempt > 0) await sleep(backoffDelayMs(attempt, options.backoff));
        try {
          remaining = await source.ack(remaining);
        } catch (err) {
          metrics.errors.inc({ stage: "acking", code: isEtlError(err) ? err.code : "ACK_FAILED" });
        }
      }
      if (remaining.length) {
        // The rows are committed: the redelivery will be counted as a duplicate, not lost.
        summary.ack_failed += remaining.length;
        metrics.ackFailures.inc(remaining.length);
        log.warn(
          { code: "ACK_FAILED", messageIds: remaining.map((d) => d.messageId) },
          "delete failed after commit; the messages will come back as duplicates",
        );
      }
    })().finally(() => {
      acking -= deliveries.length;
      acks.delete(task);
      onSettled(0);
    });
    acks.add(task);
  }

  /**
   * Gives deliveries back without touching them: they return when their visibility
   * timeout ends. For a transform bug, where releasing at once would loop hot.
   */
  function abandon(deliveries: Delivery[]): void {
    if (deliveries.length === 0) return;
    summary.released += deliveries.length;
    metrics.released.inc(deliveries.length);
    onSettled(deliveries.length);
  }

  async function release(deliveries: Delivery[]): Promise<void> {
    if (deliveries.length === 0) return;
    for (const d of deliveries) writing.delete(d);
    summary.released += deliveries.length;
    metrics.released.inc(deliveries.length);
    onSettled(deliveries.length);
    let failed: Delivery[] = deliveries;
    try {
      failed = await source.release(deliveries);
    } catch (err) {
      metrics.errors.inc({ stage: "acking", code: isEtlError(err) ? err.code : "RELEASE_FAILED" });
    }
    if (failed.length) {
      log.warn(
        { code: "RELEASE_FAILED", count: failed.length },
        "release failed; the messages return when their visibility timeout ends",
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
    release,
    abandon,
    writing: () => [...writing],
    acking: () => acking,
    releasedAtDeadline: () => releasedAtDeadline,
    async idle(): Promise<void> {
      while (acks.size) await Promise.all([...acks]);
    },
  };
}
