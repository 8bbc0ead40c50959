// Routing rejections: each goes to the dead-letter queue and is acked once the
// queue accepted it. This runs beside the writers, never in their way: a DLQ
// that is down or refuses must not hold back valid rows. A letter is tried a
// bounded number of times; one the DLQ cannot take (refused for good, or still
// failing after those tries) is left on the source queue, never deleted, and
// comes back after its visibility timeout.
import { codeOf, describeCause, isErrorCode, isEtlError } from "../errors.ts";
import type { Acknowledger } from "./acknowledge.ts";
import { backoffDelayMs, sleep } from "./backoff.ts";
import type { DeadLetter, Refusal } from "./contracts.ts";
import { beforeDeadline } from "./deadline.ts";
import type { SettleContext } from "./settleContext.ts";

const DEFAULT_ATTEMPTS = 5;

export type DeadLetterer = ReturnType<typeof createDeadLetterer>;

export function createDeadLetterer(
  ctx: SettleContext,
  acknowledger: Pick<Acknowledger, "ack" | "releaseAtDeadline">,
) {
  const { deps, options, ledger, deadline, writing, progress, problems } = ctx;
  const { deadLetters, log } = deps;
  const { ack, releaseAtDeadline } = acknowledger;
  const attempts = options.deadLetterAttempts ?? DEFAULT_ATTEMPTS;
  const tasks = new Set<Promise<void>>();
  /** drain: what was left on the queue in this run, so meeting it again is not new work. */
  const leftOnQueue = new Map<string, DeadLetter["rejection"]>();
  const LEFT_ON_QUEUE_MEMORY = 100_000;

  // Rejections are bad input, not errors: their lines carry no error `code` but the
  // rejection's `outcome` and `reasons`, as login_etl_messages_rejected_total does.
  /** Settles rejections without deleting them: they return after their visibility timeout. */
  function leaveOnQueue(
    letters: readonly DeadLetter[],
    message: string,
    extra: Record<string, unknown> = {},
  ) {
    if (letters.length === 0) return;
    for (const l of letters) {
      writing.delete(l.delivery);
      // Only drain meets them again and needs to know; `run` retries them on their return.
      if (options.stopWhenEmpty && leftOnQueue.size < LEFT_ON_QUEUE_MEMORY)
        leftOnQueue.set(l.delivery.messageId, l.rejection);
    }
    ledger.rejected(letters, "left_on_queue");
    log.warn(
      {
        outcome: "left_on_queue",
        reasons: countByReason(letters),
        messageIds: letters.map((l) => l.delivery.messageId),
        ...extra,
      },
      message,
    );
  }

  function accepted(letters: readonly DeadLetter[]) {
    if (letters.length === 0) return;
    ledger.rejected(letters, "dead_lettered");
    log.warn(
      {
        outcome: "dead_lettered",
        reasons: countByReason(letters),
        messageIds: letters.map((l) => l.delivery.messageId),
      },
      "rejected messages sent to the dead-letter queue",
    );
    ack(letters.map((l) => l.delivery));
  }

  async function deadLetter(letters: readonly DeadLetter[]): Promise<void> {
    if (!deadLetters) {
      leaveOnQueue(letters, "rejected messages left on the queue: no dead-letter queue is configured");
      return;
    }
    let remaining = letters;
    const failures = new Map<DeadLetter, number>();
    for (let attempt = 0; remaining.length; attempt++) {
      if (deadline.aborted) {
        await releaseAtDeadline(remaining.map((l) => l.delivery));
        return;
      }
      const refusals = await beforeDeadline(deadLetters.send(remaining, deadline), deadline);
      progress();
      if (refusals === null) continue; // past the deadline: the next turn releases them
      const refused = new Set(refusals.map((r) => r.letter));
      accepted(remaining.filter((l) => !refused.has(l)));
      if (refusals.length === 0) return;
      reportRefusals(refusals);
      for (const r of refusals) failures.set(r.letter, (failures.get(r.letter) ?? 0) + 1);
      const givenUp = refusals.filter((r) => r.permanent || (failures.get(r.letter) ?? 0) >= attempts);
      if (givenUp.length) {
        leaveOnQueue(
          givenUp.map((r) => r.letter),
          "could not be dead-lettered; left on the source queue",
          { dlqCodes: [...new Set(givenUp.map((r) => r.code))] },
        );
      }
      const gaveUp = new Set(givenUp.map((r) => r.letter));
      remaining = refusals.map((r) => r.letter).filter((l) => !gaveUp.has(l));
      if (remaining.length) await sleep(backoffDelayMs(attempt, options.backoff), deadline);
    }
  }

  function reportRefusals(refusals: readonly Refusal[]) {
    const byCode = new Map<string, Refusal[]>();
    for (const r of refusals) byCode.set(r.code, [...(byCode.get(r.code) ?? []), r]);
    for (const [code, group] of byCode) {
      const first = group[0] as Refusal;
      // Our own code for a failed request; DLQ_SEND_FAILED for the queue's refusal of an entry
      // (whose SQS code goes in sqsCode, outside the catalogue's `code`). Each letter counts.
      const ours = first.requestFailed && isErrorCode(code) ? code : "DLQ_SEND_FAILED";
      problems.report(
        "dead-lettering",
        ours,
        {
          ...(ours === code ? {} : { sqsCode: code }),
          permanent: first.permanent,
          messageIds: group.map((r) => r.letter.delivery.messageId),
        },
        first.requestFailed ? "dead-letter send failed" : "the dead-letter queue refused messages",
        { count: group.length },
      );
    }
  }

  return {
    /** Starts dead-lettering `letters` without waiting for it: the caller goes on writing rows. */
    submit(letters: readonly DeadLetter[]): void {
      if (letters.length === 0) return;
      const task = deadLetter(letters)
        .catch(async (err: unknown) => {
          // deadLetter handles every expected failure; reaching here is a bug: keep the messages.
          problems.report(
            "dead-lettering",
            codeOf(err, "DLQ_SEND_FAILED"),
            { count: letters.length, ...(isEtlError(err) ? err.context : describeCause(err)) },
            "dead-lettering failed unexpectedly",
            { level: "error" },
          );
          leaveOnQueue(
            letters.filter((l) => writing.has(l.delivery)),
            "dead-lettering failed unexpectedly; left on the source queue",
          );
        })
        .finally(() => tasks.delete(task));
      tasks.add(task);
    },
    /**
     * drain: a rejection left on the queue earlier in this run, met again. It is
     * settled as left on the queue at once, without new tries, so that a short
     * visibility timeout cannot keep a drain going for ever.
     */
    settleIfLeftBefore(delivery: DeadLetter["delivery"]): boolean {
      const rejection = leftOnQueue.get(delivery.messageId);
      if (!rejection) return false;
      ledger.rejected([{ delivery, rejection }], "left_on_queue");
      return true;
    },
    async idle(): Promise<void> {
      while (tasks.size) await Promise.all([...tasks]);
    },
  };
}

function countByReason(letters: readonly DeadLetter[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const { rejection } of letters) out[rejection.code] = (out[rejection.code] ?? 0) + 1;
  return out;
}
