// The loop: pollers receive and transform, writers commit batches and then
// settle each delivery (ack after commit or after the DLQ accepted it). The
// invariant everything here protects: a delivery is deleted only after its row
// is committed or its dead letter accepted.
import { EtlError, isEtlError } from "../errors.ts";
import type { Logger } from "../ops/logger.ts";
import type { Metrics } from "../ops/metrics.ts";
import type { RejectionCode } from "../transform/loginEvent.ts";
import { type BackoffOptions, backoffDelayMs, sleep } from "./backoff.ts";
import type { DeadLetterQueue, Delivery, Outcome, Sink, Source, Transform } from "./contracts.ts";
import { createHeartbeat } from "./heartbeat.ts";
import { createSettler, type Item } from "./settle.ts";
import { Wakeup } from "./wakeup.ts";

export interface PipelineOptions {
  readonly pollers: number;
  readonly receiveMax: number;
  readonly waitTimeSeconds: number;
  /** Rows (and rejections) per transaction. */
  readonly batchSize: number;
  /** The longest a received message waits for its batch to fill. */
  readonly flushIntervalMs: number;
  /** Received and not yet settled; receiving pauses at this bound (back-pressure). */
  readonly maxInFlight: number;
  readonly writers: number;
  /** drain: stop once every poller came back empty and nothing is in flight. */
  readonly stopWhenEmpty: boolean;
  readonly shutdownTimeoutMs: number;
  readonly backoff: BackoffOptions;
  /** The queue's visibility timeout; null turns the heartbeat off. */
  readonly visibilityTimeoutSeconds: number | null;
  /** Longest a delivery is kept invisible by the heartbeat. */
  readonly maxHoldSeconds: number;
  /** On stop, how long a receive under way may still answer before it is aborted (default 1000). */
  readonly receiveGraceMs?: number;
}

export interface PipelineDeps {
  readonly source: Source;
  readonly sink: Sink;
  readonly deadLetters: DeadLetterQueue | null;
  readonly transform: Transform;
  readonly metrics: Metrics;
  readonly log: Logger;
}

export interface Summary {
  received: number;
  inserted: number;
  duplicates: number;
  /** Sent to the dead-letter queue (DESIGN §6). */
  rejected: number;
  /** Rejected with no dead-letter queue configured: left on the source queue. */
  left_on_queue: number;
  released: number;
  ack_failed: number;
  rejected_by_reason: Partial<Record<RejectionCode, number>>;
  seconds: number;
}

export interface Pipeline {
  /** Runs until `stop` aborts (or, with stopWhenEmpty, the queue is empty). Resolves with the summary; rejects on a fatal error. */
  run(stop: AbortSignal): Promise<Summary>;
  /** Live counters, for progress reporting. */
  readonly summary: Readonly<Summary>;
  readonly inFlight: () => number;
}

export function createPipeline(deps: PipelineDeps, options: PipelineOptions): Pipeline {
  const { source, transform, metrics, log } = deps;
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
  const wakeup = new Wakeup();
  const pending: Item[] = [];
  let inFlight = 0;
  // Headroom taken by receives still under way: each may bring receiveMax
  // deliveries, so pollers whose receives overlap must not all count the same
  // headroom, or together they overshoot maxInFlight by (pollers - 1) * receiveMax.
  let reserved = 0;
  const emptyPollers = new Set<number>();
  const receiving = new AbortController();
  // Set by stop: no new receive starts. Receives under way are aborted only
  // after receiveGraceMs, because SQS may already have taken messages for one
  // (made them invisible): aborting it throws that answer away, and those
  // messages would stay invisible for a whole visibility timeout instead of
  // being written or handed back now. The abort is for long polls parked on an
  // empty queue, which would otherwise hold the shutdown for waitTimeSeconds.
  let stopping = false;
  const noMoreReceives = () => stopping || receiving.signal.aborted;
  const deadline = new AbortController();
  let finishing = false;
  let fatal: unknown = null;

  const settler = createSettler(deps, options, summary, deadline.signal, (n) => {
    inFlight -= n;
    metrics.inFlight.set(inFlight);
    wakeup.notify();
  });
  const heartbeat = createHeartbeat(deps, options, () => [
    ...pending.map((i) => i.delivery),
    ...settler.writing(),
  ]);

  function fail(err: unknown) {
    fatal ??= err;
    receiving.abort();
    // Finishing what is in hand must not wait forever (a database that is down too).
    armDeadline();
    wakeup.notify();
  }

  let deadlineTimer: NodeJS.Timeout | undefined;
  function armDeadline() {
    deadlineTimer ??= setTimeout(() => {
      // No receive may outlive the deadline: it could take back what the deadline releases.
      receiving.abort();
      deadline.abort();
      wakeup.notify();
    }, options.shutdownTimeoutMs);
  }

  function outcomeOf(delivery: Delivery): Outcome | null {
    try {
      return transform(delivery);
    } catch (err) {
      // A bug, not bad input: keep the message for a fixed version rather than guess.
      metrics.errors.inc({ stage: "processing", code: "TRANSFORM_FAILED" });
      log.error(
        { code: "TRANSFORM_FAILED", messageId: delivery.messageId, errName: (err as Error)?.name },
        "transform threw",
      );
      return null;
    }
  }

  const hasRoom = () => inFlight + reserved + settler.acking() + options.receiveMax <= options.maxInFlight;

  async function poll(index: number): Promise<void> {
    let attempt = 0;
    while (!noMoreReceives()) {
      // Checked again after every wake-up, in the same step as the reservation
      // below: pollers woken together must not all take the same headroom.
      while (!noMoreReceives() && !hasRoom()) {
        await wakeup.until(() => noMoreReceives() || hasRoom());
      }
      if (noMoreReceives()) break;
      let deliveries: Delivery[];
      reserved += options.receiveMax;
      try {
        deliveries = await source.receive({
          maxMessages: options.receiveMax,
          waitTimeSeconds: options.waitTimeSeconds,
          signal: receiving.signal,
        });
        attempt = 0;
      } catch (err) {
        reserved -= options.receiveMax;
        wakeup.notify();
        if (receiving.signal.aborted) break;
        const code = isEtlError(err) ? err.code : "SQS_REQUEST_FAILED";
        metrics.errors.inc({ stage: "receiving", code });
        if (isEtlError(err) && !err.retryable) return fail(err);
        const delayMs = backoffDelayMs(attempt++, options.backoff);
        log.warn(
          { code, poller: index, retryInMs: delayMs, ...(isEtlError(err) ? err.context : {}) },
          "receive failed",
        );
        await sleep(delayMs, receiving.signal);
        continue;
      }
      // Synchronously up to `inFlight +=` below: the reservation turns into deliveries in one step.
      reserved -= options.receiveMax;
      if (deliveries.length === 0) {
        emptyPollers.add(index);
        if (options.stopWhenEmpty && emptyPollers.size === options.pollers && inFlight === 0)
          receiving.abort();
        wakeup.notify();
        // Short polling (wait time 0) on an empty queue would otherwise spin.
        if (options.waitTimeSeconds === 0) await sleep(200, receiving.signal);
        continue;
      }
      emptyPollers.delete(index);
      inFlight += deliveries.length;
      summary.received += deliveries.length;
      metrics.received.inc(deliveries.length);
      metrics.inFlight.set(inFlight);
      const receivedAtMs = Date.now();
      const broken: Delivery[] = [];
      for (const delivery of deliveries) {
        const outcome = outcomeOf(delivery);
        if (outcome) pending.push({ delivery, outcome, receivedAtMs });
        else broken.push(delivery);
      }
      settler.abandon(broken);
      wakeup.notify();
    }
  }

  const allPollersIdle = () => emptyPollers.size === options.pollers;

  function flushDue(): boolean {
    const oldest = pending[0];
    if (!oldest) return false;
    return (
      pending.length >= options.batchSize ||
      finishing ||
      allPollersIdle() ||
      Date.now() - oldest.receivedAtMs >= options.flushIntervalMs
    );
  }

  async function write(): Promise<void> {
    for (;;) {
      await wakeup.until(
        () => flushDue() || (finishing && pending.length === 0),
        () => (pending[0] ? pending[0].receivedAtMs + options.flushIntervalMs - Date.now() : undefined),
      );
      if (pending.length === 0) return;
      const chunk = pending.splice(0, options.batchSize);
      try {
        await settler.settle(chunk);
      } catch (err) {
        // settle handles every expected failure; reaching here is a bug.
        fail(err);
        await settler.release(chunk.map((i) => i.delivery));
      }
    }
  }

  return {
    summary,
    inFlight: () => inFlight,
    async run(stop) {
      const started = performance.now();
      let graceTimer: NodeJS.Timeout | undefined;
      const onStop = () => {
        stopping = true;
        const graceMs = Math.min(options.receiveGraceMs ?? 1_000, options.shutdownTimeoutMs);
        graceTimer = setTimeout(() => receiving.abort(), graceMs);
        armDeadline();
        wakeup.notify();
      };
      if (stop.aborted) onStop();
      else stop.addEventListener("abort", onStop, { once: true });
      heartbeat.start();
      const writers = Array.from({ length: options.writers }, () => write());
      await Promise.all(Array.from({ length: options.pollers }, (_, i) => poll(i)));
      clearTimeout(graceTimer);
      finishing = true;
      wakeup.notify();
      await Promise.all(writers);
      // Deletes still retrying at the deadline are left: those rows are committed, so
      // the messages come back as duplicates, never as losses.
      const deadlinePassed = new Promise<void>((resolve) => {
        if (deadline.signal.aborted) resolve();
        else deadline.signal.addEventListener("abort", () => resolve(), { once: true });
      });
      await Promise.race([settler.idle(), deadlinePassed]);
      heartbeat.stop();
      clearTimeout(deadlineTimer);
      stop.removeEventListener("abort", onStop);
      summary.seconds = Number(((performance.now() - started) / 1000).toFixed(3));
      if (fatal) throw fatal;
      if (settler.releasedAtDeadline() > 0) {
        throw new EtlError(
          "SHUTDOWN_DEADLINE",
          "shutdown deadline passed before every message in hand was written; the rest were released",
          {
            context: { released: settler.releasedAtDeadline(), shutdownTimeoutMs: options.shutdownTimeoutMs },
          },
        );
      }
      return summary;
    },
  };
}
