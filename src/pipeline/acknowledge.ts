// The source side of settling: deleting what is settled and handing back what
// is not. A delete that keeps failing is given up on (the rows are committed,
// so the redelivery is a duplicate); nothing is ever deleted unsettled.
import { codeOf } from "../errors.ts";
import { backoffDelayMs, sleep } from "./backoff.ts";
import type { Delivery } from "./contracts.ts";
import type { SettleContext } from "./settleContext.ts";

const ACK_ATTEMPTS = 4;

export type Acknowledger = ReturnType<typeof createAcknowledger>;

export function createAcknowledger(ctx: SettleContext) {
  const { deps, options, ledger, writing, notify, progress, problems } = ctx;
  const { source } = deps;
  const acks = new Set<Promise<void>>();
  let acking = 0;
  /** Deliveries released because the shutdown deadline came before they were written or dead-lettered. */
  let releasedAtDeadline = 0;

  /** Deletes deliveries already settled in the ledger. */
  function ack(deliveries: readonly Delivery[]): void {
    // Settled: no longer in hand, so the heartbeat stops extending them.
    for (const d of deliveries) writing.delete(d);
    acking += deliveries.length;
    const task = (async () => {
      let remaining = deliveries;
      for (let attempt = 0; attempt < ACK_ATTEMPTS && remaining.length; attempt++) {
        if (attempt > 0) await sleep(backoffDelayMs(attempt, options.backoff));
        // Each failed attempt counts: the request's own code, or ACK_FAILED for entries the queue refused.
        try {
          remaining = await source.ack(remaining);
          if (remaining.length) problems.count("acking", "ACK_FAILED");
        } catch (err) {
          problems.count("acking", codeOf(err, "ACK_FAILED"));
        }
        progress();
      }
      if (remaining.length) {
        // The rows are committed: the redelivery will be counted as a duplicate, not lost.
        ledger.ackFailed(remaining.length);
        // One line once the attempts are exhausted; each was counted above.
        problems.log(
          "acking",
          "ACK_FAILED",
          { messageIds: remaining.map((d) => d.messageId) },
          "delete failed after commit; the messages will come back as duplicates",
        );
      }
    })().finally(() => {
      acking -= deliveries.length;
      acks.delete(task);
      notify();
    });
    acks.add(task);
  }

  /**
   * Settles deliveries without touching them on the queue: they return when their
   * visibility timeout ends (a transform bug, where releasing at once would loop hot).
   */
  function abandon(deliveries: readonly Delivery[]): void {
    for (const d of deliveries) writing.delete(d);
    ledger.released(deliveries);
  }

  async function release(deliveries: readonly Delivery[]): Promise<void> {
    if (deliveries.length === 0) return;
    abandon(deliveries);
    // No longer held, so no new extension includes them; one already sent must be answered first.
    await ctx.visibilityQuiet();
    let failed: readonly Delivery[] = deliveries;
    // One attempt: counted under the request's own code when it failed as a whole, else RELEASE_FAILED.
    let requestFailed = false;
    try {
      failed = await source.release(deliveries);
    } catch (err) {
      requestFailed = true;
      problems.count("acking", codeOf(err, "RELEASE_FAILED"));
    }
    if (failed.length) {
      if (!requestFailed) problems.count("acking", "RELEASE_FAILED");
      problems.log(
        "acking",
        "RELEASE_FAILED",
        { count: failed.length },
        "release failed; the messages return when their visibility timeout ends",
      );
    }
  }

  /** Releases what the shutdown deadline caught before it was written or dead-lettered. */
  async function releaseAtDeadline(deliveries: readonly Delivery[]): Promise<void> {
    releasedAtDeadline += deliveries.length;
    await release(deliveries);
  }

  return {
    ack,
    abandon,
    release,
    releaseAtDeadline,
    acking: () => acking,
    releasedAtDeadline: () => releasedAtDeadline,
    async idle(): Promise<void> {
      while (acks.size) await Promise.all([...acks]);
    },
  };
}
