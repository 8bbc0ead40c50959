// In-memory fakes of our own contracts (Source, Sink, DeadLetterQueue) for
// unit tests of the pipeline loop; never the AWS SDK or pg. All three write to
// one ordered event log, so a test can assert what happened before what
// (a delivery is acked only after its row was committed).
import { Writable } from "node:stream";
import { pino } from "pino";
import { isEtlError } from "../../src/errors.ts";
import type { Logger } from "../../src/ops/logger.ts";
import type {
  DeadLetter,
  DeadLetterQueue,
  Delivery,
  ReceiveOptions,
  Sink,
  Source,
  WriteResult,
} from "../../src/pipeline/contracts.ts";
import type { LoginRow } from "../../src/transform/toRow.ts";

/** "extend" when an extension is sent, "extend-answered" when the queue has applied it. */
export type EventKind =
  | "receive"
  | "commit"
  | "ack"
  | "release"
  | "extend"
  | "extend-answered"
  | "dlq-accept";

export interface LoggedEvent {
  readonly kind: EventKind;
  readonly messageId: string;
  /** The delivery's handle; commits are per row, so they carry none. */
  readonly handle: string | null;
  readonly atMs: number;
}

export function createEventLog() {
  const events: LoggedEvent[] = [];
  return {
    events,
    record(kind: EventKind, messageId: string, handle: string | null = null): void {
      events.push({ kind, messageId, handle, atMs: Date.now() });
    },
    of(kind: EventKind): LoggedEvent[] {
      return events.filter((e) => e.kind === kind);
    },
    /** Position of the first event of `kind` matching `where`, or -1. */
    indexOf(kind: EventKind, where: (e: LoggedEvent) => boolean): number {
      return events.findIndex((e) => e.kind === kind && where(e));
    },
  };
}

export type EventLog = ReturnType<typeof createEventLog>;

/** One JSON line a logger wrote, parsed. */
export type LogLine = Record<string, unknown> & { level: string; msg: string };

/** A real pino logger (trace and up) whose lines are kept, parsed, in `lines`. */
export function createCapturingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)) as LogLine);
      done();
    },
  });
  const logger = pino({ level: "trace", formatters: { level: (label) => ({ level: label }) } }, stream);
  return { logger, lines };
}

interface Gate {
  readonly promise: Promise<void>;
  readonly open: () => void;
}

/** A promise that resolves when `open` is called: a slow request, held until the test lets it answer. */
function closedGate(): Gate {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** Resolves on a later turn of the event loop, like a network round trip. */
export const roundTrip = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1));

interface QueuedMessage {
  readonly messageId: string;
  readonly body: string;
  readonly sentAtMs: number;
  receiveCount: number;
}

export interface FakeSourceOptions {
  readonly log: EventLog;
  /** Like an SQS redrive policy: a released message received this many times leaves the queue (see `redriven`). */
  readonly maxReceiveCount?: number;
}

/**
 * A queue with SQS's shape: receive hides messages (each receipt gets its own
 * handle), ack deletes, release makes visible again, long polls wait up to
 * waitTimeSeconds and end early when the signal aborts. Visibility timeouts
 * never lapse on their own here: a held delivery stays held until acked or released.
 */
export function createFakeSource(options: FakeSourceOptions) {
  const { log } = options;
  const visible: QueuedMessage[] = [];
  const held = new Map<string, { delivery: Delivery; message: QueuedMessage }>();
  const redriven: string[] = [];
  const receiveErrors: unknown[] = [];
  const acked: Delivery[] = [];
  const released: Delivery[] = [];
  const extended: Array<{ delivery: Delivery; seconds: number; atMs: number }> = [];
  /** The size of every receive's answer, in call order (thrown receives excluded). */
  const receiveSizes: number[] = [];
  let receiveCalls = 0;
  let releaseCalls = 0;
  let received = 0;
  let maxHeld = 0;
  let handles = 0;
  let sequence = 0;
  let ackGate: Gate | null = null;
  let extendGate: Gate | null = null;
  /** What the next ack calls do instead of deleting: throw the error, or "refuse" every entry. */
  const ackFailures: unknown[] = [];

  function take(maxMessages: number): Delivery[] {
    const now = Date.now();
    return visible.splice(0, maxMessages).map((message) => {
      message.receiveCount++;
      const delivery: Delivery = {
        messageId: message.messageId,
        body: message.body,
        bytes: message.body.length,
        sentAtMs: message.sentAtMs,
        receiveCount: message.receiveCount,
        receivedAtMs: now,
        handle: `${message.messageId}#${++handles}`,
      };
      held.set(delivery.handle, { delivery, message });
      log.record("receive", delivery.messageId, delivery.handle);
      return delivery;
    });
  }

  function abortError(signal: AbortSignal): unknown {
    return signal.reason ?? new Error("aborted");
  }

  const source: Source = {
    async receive({ maxMessages, waitTimeSeconds, signal }: ReceiveOptions): Promise<Delivery[]> {
      receiveCalls++;
      await roundTrip();
      const until = Date.now() + waitTimeSeconds * 1000;
      for (;;) {
        // An error queued while this long poll waits ends it (the endpoint answered with a failure).
        if (receiveErrors.length) throw receiveErrors.shift();
        if (signal.aborted) throw abortError(signal);
        if (visible.length || Date.now() >= until) {
          const deliveries = take(maxMessages);
          received += deliveries.length;
          maxHeld = Math.max(maxHeld, held.size);
          receiveSizes.push(deliveries.length);
          return deliveries;
        }
        await roundTrip();
      }
    },
    async ack(deliveries) {
      await roundTrip();
      if (ackGate) await ackGate.promise;
      if (ackFailures.length) {
        const failure = ackFailures.shift();
        if (failure === "refuse") return [...deliveries];
        throw failure;
      }
      for (const d of deliveries) {
        held.delete(d.handle);
        acked.push(d);
        log.record("ack", d.messageId, d.handle);
      }
      return [];
    },
    async release(deliveries) {
      releaseCalls++;
      await roundTrip();
      for (const d of deliveries) {
        const entry = held.get(d.handle);
        held.delete(d.handle);
        released.push(d);
        log.record("release", d.messageId, d.handle);
        if (!entry) continue;
        if (options.maxReceiveCount !== undefined && entry.message.receiveCount >= options.maxReceiveCount) {
          redriven.push(entry.message.messageId);
        } else {
          visible.push(entry.message);
        }
      }
      return [];
    },
    healthcheck: async () => {},
    async extend(deliveries, seconds) {
      const atMs = Date.now();
      for (const d of deliveries) {
        extended.push({ delivery: d, seconds, atMs });
        log.record("extend", d.messageId, d.handle);
      }
      await roundTrip();
      if (extendGate) await extendGate.promise;
      for (const d of deliveries) log.record("extend-answered", d.messageId, d.handle);
      return [];
    },
  };

  return {
    source,
    /** Enqueues a message; pass an existing messageId to model SQS delivering one message twice. */
    send(body: string, messageId = `m-${++sequence}`): string {
      visible.push({ messageId, body, sentAtMs: Date.now(), receiveCount: 0 });
      return messageId;
    },
    /** The next receive calls (or the long poll in progress) throw these, in order. */
    failNextReceive(...errors: unknown[]): void {
      receiveErrors.push(...errors);
    },
    /** Every held delivery's visibility timeout lapses now: the messages are visible again. */
    lapse(): void {
      for (const { message } of held.values()) visible.push(message);
      held.clear();
    },
    /** Acks wait from now until `openAcks()` (a slow DeleteMessageBatch). */
    holdAcks(): void {
      ackGate = closedGate();
    },
    openAcks(): void {
      ackGate?.open();
      ackGate = null;
    },
    /** Extensions sent from now on are answered only at `openExtends()` (a slow ChangeMessageVisibilityBatch). */
    holdExtends(): void {
      extendGate = closedGate();
    },
    openExtends(): void {
      extendGate?.open();
      extendGate = null;
    },
    /** The next ack calls fail, in order: each throws its error, or with "refuse" the queue refuses every entry. */
    failNextAcks(...failures: unknown[]): void {
      ackFailures.push(...failures);
    },
    acked,
    released,
    extended,
    redriven,
    receiveSizes,
    receiveCalls: () => receiveCalls,
    /** Release calls made so far, counted when sent (their "release" events come when answered). */
    releaseCalls: () => releaseCalls,
    /** Deliveries handed out so far (a redelivery counts again). */
    received: () => received,
    /** Deliveries received and neither acked nor released. */
    held: () => [...held.values()].map((h) => h.delivery),
    /** The most deliveries held at once. */
    maxHeld: () => maxHeld,
    visibleCount: () => visible.length,
    ackCount: (handle: string) => acked.filter((d) => d.handle === handle).length,
  };
}

export type FakeSource = ReturnType<typeof createFakeSource>;

export interface FakeSinkOptions {
  readonly log: EventLog;
  /** message_ids already in the table (committed by an earlier run). */
  readonly stored?: Iterable<string>;
}

/**
 * A table keyed by message_id: one transaction per write (all rows or none),
 * ON CONFLICT DO NOTHING semantics. `failWith` makes writes throw; `hold`
 * makes them wait (a slow or hung database).
 */
export function createFakeSink(options: FakeSinkOptions) {
  const { log } = options;
  const stored = new Map<string, LoginRow | null>();
  for (const id of options.stored ?? []) stored.set(id, null);
  /** message_ids of every write attempt, in order. */
  const attempts: Array<{ ids: string[]; atMs: number }> = [];
  /** message_ids of every committed write. */
  const committed: string[][] = [];
  let failure: ((rows: readonly LoginRow[]) => unknown) | null = null;
  let gate: Gate | null = null;

  const sink: Sink = {
    healthcheck: async () => {},
    async write(rows): Promise<WriteResult> {
      attempts.push({ ids: rows.map((r) => r.message_id), atMs: Date.now() });
      await roundTrip();
      if (gate) await gate.promise;
      const err = failure?.(rows);
      if (err) throw err;
      let inserted = 0;
      for (const row of rows) {
        if (stored.has(row.message_id)) continue;
        stored.set(row.message_id, row);
        inserted++;
        log.record("commit", row.message_id);
      }
      committed.push(rows.map((r) => r.message_id));
      return { inserted, duplicates: rows.length - inserted };
    },
  };

  return {
    sink,
    attempts,
    committed,
    /** Every write throws what `fn` returns (when truthy) until called with null. */
    failWith(fn: ((rows: readonly LoginRow[]) => unknown) | null): void {
      failure = fn;
    },
    /** Writes wait from now until `open()`; one never opened is a hung database. */
    hold(): void {
      gate = closedGate();
    },
    open(): void {
      gate?.open();
      gate = null;
    },
    /** message_ids stored by this fake's writes (not the seeded ones). */
    writtenIds: () => [...stored.entries()].filter(([, row]) => row !== null).map(([id]) => id),
  };
}

export type FakeSink = ReturnType<typeof createFakeSink>;

/**
 * A dead-letter queue that accepts every letter unless `refuse` says otherwise
 * for that letter on that call (1-based), or `throwWith` makes the whole call throw.
 */
export function createFakeDeadLetterQueue(options: {
  readonly log: EventLog;
  readonly refuse?: (letter: DeadLetter, call: number) => boolean;
  /** Refusals for which this is true are marked permanent (SenderFault). */
  readonly permanent?: (letter: DeadLetter) => boolean;
}) {
  const { log } = options;
  const sends: DeadLetter[][] = [];
  const accepted: DeadLetter[] = [];
  let failure: unknown = null;

  const deadLetters: DeadLetterQueue = {
    async send(letters) {
      sends.push([...letters]);
      const call = sends.length;
      await roundTrip();
      if (failure) {
        // As the SQS adapter does: a request that failed as a whole refuses each of its letters.
        const err = failure;
        return letters.map((letter) => ({
          letter,
          permanent: isEtlError(err) && !err.retryable,
          code: isEtlError(err) ? err.code : "DLQ_SEND_FAILED",
          requestFailed: true,
        }));
      }
      const failed = letters.filter((l) => options.refuse?.(l, call) ?? false);
      const refusals = failed.map((letter) => ({
        letter,
        permanent: options.permanent?.(letter) ?? false,
        code: "Refused",
        requestFailed: false,
      }));
      for (const letter of letters) {
        if (failed.includes(letter)) continue;
        accepted.push(letter);
        log.record("dlq-accept", letter.delivery.messageId, letter.delivery.handle);
      }
      return refusals;
    },
  };

  return {
    deadLetters,
    sends,
    accepted,
    /** Every send fails as a whole with `err` until called with null. */
    throwWith(err: unknown): void {
      failure = err;
    },
  };
}

export type FakeDeadLetterQueue = ReturnType<typeof createFakeDeadLetterQueue>;
