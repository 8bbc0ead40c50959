// The contracts between the pipeline and its adapters. Nothing here knows SQS
// or PostgreSQL: sources/ and sinks/ implement these with the AWS SDK and pg.
import type { Rejection } from "../transform/loginEvent.ts";
import type { LoginRow } from "../transform/toRow.ts";

/** One receipt of one message. The same message may be delivered more than once. */
export interface Delivery {
  readonly messageId: string;
  readonly body: string;
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
}

export interface DeadLetter {
  readonly delivery: Delivery;
  readonly rejection: Rejection;
}

export interface Refusal {
  readonly letter: DeadLetter;
  /** True when sending it again cannot help (the queue rejects this message itself: size, FIFO, KMS). */
  readonly permanent: boolean;
  /** The queue's error code, for logs. */
  readonly code: string;
}

export interface DeadLetterQueue {
  /** Resolves to the letters the queue did not accept; throws when the call as a whole failed. */
  send(letters: readonly DeadLetter[]): Promise<Refusal[]>;
}

export interface WriteResult {
  readonly inserted: number;
  /** Rows whose message_id was already stored. */
  readonly duplicates: number;
}

export interface Sink {
  /** Writes all rows in one transaction, idempotently by message_id; throws if nothing was committed. */
  write(rows: readonly LoginRow[]): Promise<WriteResult>;
}

export type Outcome = { readonly row: LoginRow } | { readonly rejection: Rejection };

/** decode → validate → mask → row, for one delivery. Pure. */
export type Transform = (delivery: Delivery) => Outcome;
