// The loop: pollers receive and transform, writers commit batches and then
// settle each delivery (ack after commit or after the DLQ accepted it). The
// invariant everything here protects: a delivery is deleted only after its row
// is committed or its dead letter accepted.
import { codeOf, contextOf, EtlError, isEtlError } from "../errors.ts";
import { createProblems } from "../ops/problems.ts";
import { backoffDelayMs, sleep } from "./backoff.ts";
import type { Delivery, Item, Outcome, PipelineDeps, PipelineOptions, Summary } from "./contracts.ts";
import { createHeartbeat } from "./heartbeat.ts";
import { createLedger } from "./ledger.ts";
import { createSettler } from "./settle.ts";
import { Wakeup } from "./wakeup.ts";

export interface Pipeline {
  /** Runs until `stop` aborts (or, with stopWhenEmpty, the queue is empty). Resolves with the summary; rejects on a fatal error. */
  run(stop: AbortSignal): Promise<Summary>;
  /** Live counters, for progress reporting. */
  readonly summary: Readonly<Summary>;
  readonly inFlight: () => number;
  /**
   * When the loop last completed a receive, a write, a delete or a dead-letter
   * attempt (epoch ms), however it ended: a loop that stops moving is stalled.
   */
  readonly lastProgressAtMs: () => number;
}

export function createPipeline(deps: PipelineDeps, options: PipelineOptions): Pipeline {
  const { source, transform, metrics, log } = deps;
  const problems = createProblems(log, metrics);
  const wakeup = new Wakeup();
  const ledger = createLedger(metrics, () => wakeup.notify());
  const pending: Item[] = [];
  let lastProgressAtMs = Date.now();
  const progress = () => {
    lastProgressAtMs = Date.now();
  };
  // Headroom taken by receives still under way: each may bring receiveMax
  // deliveries, so pollers whose receives overlap must not all count the same
  // headroom, or together they overshoot maxInFlight by (pollers - 1) * receiveMax.
  let reserved = 0;
  /** Bytes expected from the receives under way (see receiveSize). */
  let reservedBytes = 0;
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
  /** A write failed in a way retrying cannot fix: what is still pending is released, not written. */
  let writesFutile = false;

  const writing = new Set<Delivery>();
  const settler = createSettler({
    deps,
    options,
    ledger,
    deadline: deadline.signal,
    writing,
    notify: () => wakeup.notify(),
    progress,
    problems,
    visibilityQuiet: () => heartbeat.idle(),
  });
  const heartbeat = createHeartbeat(
    deps,
    options,
    () => [...pending.map((i) => i.delivery), ...settler.writing()],
    problems,
  );

  let graceTimer: NodeJS.Timeout | undefined;
  /** No receive starts from now on; those under way get receiveGraceMs to answer (see `stopping`). */
  function stopReceiving(graceMs = Math.min(options.receiveGraceMs ?? 1_000, options.shutdownTimeoutMs)) {
    if (stopping) return;
    stopping = true;
    graceTimer = setTimeout(() => receiving.abort(), graceMs);
    // Finishing what is in hand must not wait forever (a database that is down too).
    armDeadline();
    wakeup.notify();
  }

  function fail(err: unknown) {
    fatal ??= err;
    // Not an abort: a receive that SQS already answered would leave its messages invisible.
    stopReceiving();
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
      problems.report(
        "processing",
        "TRANSFORM_FAILED",
        { messageId: delivery.messageId, errName: (err as Error)?.name },
        "transform threw",
        { level: "error" },
      );
      return null;
    }
  }

  // Bytes are reserved like counts: each receive under way holds its expected size (messages
  // asked for × the average body), so that pollers polling at once do not each count the same
  // room; a receive then overshoots the byte bound by about one body.
  /** A running average of body sizes, in UTF-16 units (0 until the first delivery). */
  let averageBytes = 0;
  /**
   * How many messages one receive asks for: all receiveMax while bodies are small, fewer as the
   * byte budget fills with large ones, so that a receive overshoots the budget by about one body
   * rather than receiveMax of them (10 × 256 KiB per poller).
   */
  const receiveSize = () => {
    if (averageBytes === 0) return options.receiveMax;
    const room = options.maxInFlightBytes - ledger.inFlightBytes() - reservedBytes;
    return Math.max(1, Math.min(options.receiveMax, Math.floor(room / averageBytes)));
  };

  const hasRoom = () =>
    ledger.inFlight() + reserved + settler.acking() + options.receiveMax <= options.maxInFlight &&
    ledger.inFlightBytes() + reservedBytes < options.maxInFlightBytes;

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
      const maxMessages = receiveSize();
      const expectedBytes = maxMessages * averageBytes;
      reservedBytes += expectedBytes;
      try {
        deliveries = await source.receive({
          maxMessages,
          waitTimeSeconds: options.waitTimeSeconds,
          signal: receiving.signal,
        });
        attempt = 0;
      } catch (err) {
        reserved -= options.receiveMax;
        reservedBytes -= expectedBytes;
        progress();
        wakeup.notify();
        if (receiving.signal.aborted) break;
        const code = codeOf(err, "SQS_REQUEST_FAILED");
        if (isEtlError(err) && !err.retryable) {
          // Counted here; its message is the run's fatal error, printed once at the top.
          problems.count("receiving", code);
          return fail(err);
        }
        const delayMs = backoffDelayMs(attempt++, options.backoff);
        problems.report(
          "receiving",
          code,
          { poller: index, retryInMs: delayMs, ...contextOf(err) },
          "receive failed",
        );
        await sleep(delayMs, receiving.signal);
        continue;
      }
      // Synchronously up to ledger.received below: the reservation turns into deliveries in one step.
      reserved -= options.receiveMax;
      reservedBytes -= expectedBytes;
      progress();
      ledger.received(deliveries);
      const fresh = options.stopWhenEmpty
        ? deliveries.filter((d) => !settler.settleIfLeftBefore(d))
        : deliveries;
      if (fresh.length === 0) {
        emptyPollers.add(index);
        // Not an abort: the other pollers' long polls may already have been answered (an
        // emulator may even hand new messages to a poll whose connection was dropped), and
        // aborting would leave those messages invisible. They end within waitTimeSeconds.
        if (options.stopWhenEmpty && emptyPollers.size === options.pollers && ledger.inFlight() === 0)
          stopReceiving(options.waitTimeSeconds * 1000 + 1_000);
        wakeup.notify();
        // Short polling (wait time 0) on an empty queue would otherwise spin.
        if (options.waitTimeSeconds === 0) await sleep(200, receiving.signal);
        continue;
      }
      emptyPollers.delete(index);
      for (const d of fresh)
        averageBytes = averageBytes === 0 ? d.bytes : averageBytes + (d.bytes - averageBytes) / 8;
      const receivedAtMs = Date.now();
      const broken: Delivery[] = [];
      for (const delivery of fresh) {
        const outcome = outcomeOf(delivery);
        if (!outcome) broken.push(delivery);
        // A row no longer needs its body: drop it now, not when the batch commits.
        else if ("row" in outcome)
          pending.push({ delivery: { ...delivery, body: "" }, outcome, receivedAtMs });
        else pending.push({ delivery, outcome, receivedAtMs });
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
      if (writesFutile) {
        // Every write would fail the same way: hand them back at once for a fixed setup to take.
        await settler.release(chunk.map((i) => i.delivery));
        continue;
      }
      try {
        await settler.settle(chunk);
      } catch (err) {
        writesFutile = true;
        fail(err);
        // A failure retrying cannot fix was settled where it happened; anything else is a bug.
        if (!isEtlError(err))
          await settler.release(chunk.map((i) => i.delivery).filter((d) => writing.has(d)));
      }
    }
  }

  return {
    summary: ledger.summary,
    inFlight: ledger.inFlight,
    lastProgressAtMs: () => lastProgressAtMs,
    async run(stop) {
      const started = performance.now();
      const onStop = () => stopReceiving();
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
      if (deadline.signal.aborted) await settler.deadLettersHandedBack();
      heartbeat.stop();
      clearTimeout(deadlineTimer);
      stop.removeEventListener("abort", onStop);
      ledger.finish(Number(((performance.now() - started) / 1000).toFixed(3)));
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
      return ledger.summary;
    },
  };
}
