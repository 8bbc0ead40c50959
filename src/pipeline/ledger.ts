// The one owner of the pipeline's counts: the summary, the metrics and what is
// in flight (by count and by bytes) change together here, so that
//   received = inserted + duplicates + rejected + left_on_queue + released + in_flight
// holds by construction, not by several files agreeing.
import type { Metrics } from "../ops/metrics.ts";
import type { RejectionCode } from "../transform/loginEvent.ts";
import type { DeadLetter, Delivery, Summary } from "./contracts.ts";

export type RejectionOutcome = "dead_lettered" | "left_on_queue";

export interface Ledger {
  readonly summary: Readonly<Summary>;
  inFlight(): number;
  inFlightBytes(): number;
  received(deliveries: readonly Delivery[]): void;
  /** Rows committed: `inserted` new, `duplicates` already stored, for these deliveries (all settled). */
  committed(deliveries: readonly Delivery[], inserted: number, duplicates: number): void;
  rejected(letters: readonly DeadLetter[], outcome: RejectionOutcome): void;
  /** Handed back unprocessed (the shutdown deadline, a transform bug). */
  released(deliveries: readonly Delivery[]): void;
  /** Committed rows whose delete kept failing: they return as duplicates. Already settled. */
  ackFailed(count: number): void;
  finish(seconds: number): void;
}

/** `onChange` runs after every change of what is in flight (the loops re-check their conditions). */
export function createLedger(metrics: Metrics, onChange: () => void): Ledger {
  const summary: Summary = {
    received: 0,
    inserted: 0,
    duplicates: 0,
    rejected: 0,
    left_on_queue: 0,
    released: 0,
    ack_failed: 0,
    rejected_by_reason: {},
    seconds: 0,
  };
  let inFlight = 0;
  let inFlightBytes = 0;

  function settle(deliveries: readonly Delivery[]): void {
    inFlight -= deliveries.length;
    for (const d of deliveries) inFlightBytes -= d.bytes;
    metrics.inFlight.set(inFlight);
    onChange();
  }

  return {
    summary,
    inFlight: () => inFlight,
    inFlightBytes: () => inFlightBytes,
    received(deliveries) {
      summary.received += deliveries.length;
      metrics.received.inc(deliveries.length);
      inFlight += deliveries.length;
      for (const d of deliveries) inFlightBytes += d.bytes;
      metrics.inFlight.set(inFlight);
      onChange();
    },
    committed(deliveries, inserted, duplicates) {
      summary.inserted += inserted;
      summary.duplicates += duplicates;
      metrics.inserted.inc(inserted);
      metrics.duplicates.inc(duplicates);
      settle(deliveries);
    },
    rejected(letters, outcome) {
      const byReason = new Map<RejectionCode, number>();
      for (const { rejection } of letters)
        byReason.set(rejection.code, (byReason.get(rejection.code) ?? 0) + 1);
      for (const [reason, n] of byReason) {
        metrics.rejected.inc({ reason, outcome }, n);
        summary.rejected_by_reason[reason] = (summary.rejected_by_reason[reason] ?? 0) + n;
      }
      // DESIGN §6: `rejected` counts what the DLQ accepted; the metric counts both, by outcome.
      if (outcome === "dead_lettered") summary.rejected += letters.length;
      else summary.left_on_queue += letters.length;
      settle(letters.map((l) => l.delivery));
    },
    released(deliveries) {
      if (deliveries.length === 0) return;
      summary.released += deliveries.length;
      metrics.released.inc(deliveries.length);
      settle(deliveries);
    },
    ackFailed(count) {
      summary.ack_failed += count;
      metrics.ackFailures.inc(count);
    },
    finish(seconds) {
      summary.seconds = seconds;
    },
  };
}
