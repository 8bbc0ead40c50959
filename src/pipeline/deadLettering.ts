// Routing rejections: each goes to the dead-letter queue and is acked once the
// queue accepted it. With no dead-letter queue, or one that keeps refusing a
// letter, the message is left on the source queue instead: never deleted.
import { isEtlError } from "../errors.ts";
import type { RejectionCode } from "../transform/loginEvent.ts";
import type { Acknowledger } from "./acknowledge.ts";
import { backoffDelayMs, sleep } from "./backoff.ts";
import type { DeadLetter, Refusal } from "./contracts.ts";
import { beforeDeadline } from "./deadline.ts";
import type { Settling } from "./settle.ts";

/** Sends of one letter the DLQ keeps refusing before it is left on the source queue. */
const DLQ_ATTEMPTS = 5;

export function createDeadLetterer(
  settling: Settling,
  acknowledger: Pick<Acknowledger, "ack" | "releaseAtDeadline">,
) {
  const { deps, options, summary, deadline, writing, onSettled } = settling;
  const { deadLetters, metrics, log } = deps;
  const { ack, releaseAtDeadline } = acknowledger;

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
        await releaseAtDeadline(remaining.map((l) => l.delivery));
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

  return { deadLetter };
}
