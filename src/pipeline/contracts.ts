// The contracts between the pipeline and its adapters. Nothing here knows SQS
// or PostgreSQL: sqs/ and postgres/ implement these over SQS and pg.
import type { Logger } from "../ops/logger.ts";
import type { Metrics } from "../ops/metrics.ts";
import type { Rejection, RejectionCode } from "../transform/loginEvent.ts";
import type { LoginRow } from "../transform/toRow.ts";
import type { BackoffOptions } from "./backoff.ts";

/** One receipt of one message. The same message may be delivered more than once. */
export interface Delivery {
  readonly messageId: string;
  /** Empty once the body is no longer needed (a valid message, transformed into its row). */
  readonly body: string;
  /** Memory charged to the in-flight budget: the body's length at receipt. */
  readonly bytes: number;
  /** When the producer sent it (SQS SentTimestamp), epoch ms. */
  readonly sentAtMs: number;
  readonly receiveCount: number;
  /** When this delivery was received, epoch ms: its visibility timeout runs from here. */
  readonly receivedAtMs: number;
  /** The source's token for ack/release (an SQS receipt handle); opaque here. */
  readonly handle: string;
}

export interface ReceiveOptions {
  readonly maxMessages: number;
  readonly waitTimeSeconds: number;
  readonly signal: AbortSignal;
}

export interface Source {
  receive(options: ReceiveOptions): Promise<Delivery[]>;
  /** Deletes for good. Resolves to the deliveries that could not be deleted. */
  ack(deliveries: readonly Delivery[]): Promise<Delivery[]>;
  /** Makes them visible again at once. Resolves to the ones that could not be released. */
  release(deliveries: readonly Delivery[]): Promise<Delivery[]>;
  /** Keeps them invisible for `seconds` more (visibility heartbeat). */
  extend(deliveries: readonly Delivery[], seconds: number): Promise<Delivery[]>;
  /** Resolves when the queue answers with our credentials (readiness); cheap, no message touched. */
  healthcheck(): Promise<void>;
}

export interface DeadLetter {
  readonly delivery: Delivery;
  readonly rejection: Rejection;
}

export interface Refusal {
  readonly letter: DeadLetter;
  /** True when sending it again cannot help (access denied, KMS, too large for the queue, FIFO mismatch). */
  readonly permanent: boolean;
  /** The queue's error code (an SQS code for an entry, ours for a failed request), for logs. */
  readonly code: string;
  /** The request carrying it failed as a whole (unreachable, 5xx), rather than the queue refusing the entry. */
  readonly requestFailed: boolean;
}

export interface DeadLetterQueue {
  /**
   * Resolves to the letters the queue did not accept, each with why; never
   * rejects. Letters of one request that failed are never mixed up with those of
   * another that succeeded, so only the failed ones are sent again.
   */
  send(letters: readonly DeadLetter[], signal?: AbortSignal): Promise<Refusal[]>;
}

export interface WriteResult {
  readonly inserted: number;
  /** Rows whose message_id was already stored. */
  readonly duplicates: number;
}

export interface Sink {
  /** Writes all rows in one transaction, idempotently by message_id; throws if nothing was committed. */
  write(rows: readonly LoginRow[]): Promise<WriteResult>;
  /** Resolves when the table answers a read (readiness), on a connection of its own, never a writer's. */
  healthcheck(): Promise<void>;
}

export type Outcome = { readonly row: LoginRow } | { readonly rejection: Rejection };

/** decode → validate → mask → row, for one delivery. Pure. */
export type Transform = (delivery: Delivery) => Outcome;

/** A delivery with what the transform made of it, waiting for its batch. */
export interface Item {
  readonly delivery: Delivery;
  readonly outcome: Outcome;
  readonly receivedAtMs: number;
}

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
  /**
   * Bodies in hand, in UTF-16 units (about bytes): receiving pauses at this bound too,
   * so large bodies cannot exhaust memory where the count bound alone would let them.
   */
  readonly maxInFlightBytes: number;
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
  /** Sends of one dead letter (refused or failed) before it is left on the source queue (default 5). */
  readonly deadLetterAttempts?: number;
  /** Dead-letter requests under way at once (default 4): bodies of up to 256 KiB each. */
  readonly deadLetterConcurrency?: number;
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
  /** Rejected but not dead-lettered (no DLQ, or the DLQ refused or was down): left on the source queue. */
  left_on_queue: number;
  released: number;
  ack_failed: number;
  rejected_by_reason: Partial<Record<RejectionCode, number>>;
  seconds: number;
}
