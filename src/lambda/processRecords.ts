// One Lambda invocation's records through the same transform, sink and
// dead-letter queue as the pipeline: one batch write, rejections
// dead-lettered with their reason code, and everything not settled reported
// as a batch item failure (Lambda deletes the rest; it makes no delete call).
import type { SQSBatchItemFailure, SQSRecord } from "aws-lambda";
import { codeOf, describeCause, type ErrorCode } from "../errors.ts";
import type { Logger } from "../ops/logger.ts";
import { createProblems } from "../ops/problems.ts";
import type { DeadLetter, DeadLetterQueue, Delivery, Sink, Transform } from "../pipeline/contracts.ts";
import type { LoginRow } from "../transform/toRow.ts";
import { deliveryOf } from "./sqsRecord.ts";

export interface RecordDeps {
  readonly transform: Transform;
  readonly sink: Sink;
  /** null: no dead-letter queue configured; rejections are reported as failures instead. */
  readonly deadLetters: DeadLetterQueue | null;
  readonly log: Logger;
}

export interface InvocationSummary {
  records: number;
  inserted: number;
  duplicates: number;
  /** Accepted by the dead-letter queue. */
  rejected: number;
  /** Reported back to Lambda: retried later, or moved by the queue's redrive policy. */
  failed: number;
}

interface RowItem {
  readonly delivery: Delivery;
  readonly row: LoginRow;
}

interface Written {
  inserted: number;
  duplicates: number;
  refused: RowItem[];
  unwritten: RowItem[];
  /** The error code of the last failed write. */
  errorCode?: ErrorCode;
}

const REFUSED_BY_DATABASE = {
  code: "invalid_field",
  detail: "the database refused the row (a value it cannot store)",
} as const;

/**
 * Writes rows in one transaction; a row PostgreSQL refuses (SQLSTATE class
 * 22/23) would fail every retry, so the batch is halved until it stands alone.
 * Any other failure leaves that part unwritten (Lambda retries it).
 */
async function write(sink: Sink, items: RowItem[], out: Written): Promise<void> {
  if (items.length === 0) return;
  try {
    const result = await sink.write(items.map((i) => i.row));
    out.inserted += result.inserted;
    out.duplicates += result.duplicates;
  } catch (err) {
    const code = codeOf(err, "DB_WRITE_FAILED");
    if (code !== "DB_ROW_REFUSED") {
      out.unwritten.push(...items);
      out.errorCode = code;
      return;
    }
    if (items.length === 1) {
      out.refused.push(...items);
      return;
    }
    const half = Math.ceil(items.length / 2);
    await write(sink, items.slice(0, half), out);
    await write(sink, items.slice(half), out);
  }
}

export async function processRecords(
  records: readonly SQSRecord[],
  deps: RecordDeps,
): Promise<{ batchItemFailures: SQSBatchItemFailure[]; summary: InvocationSummary }> {
  const { log } = deps;
  // The same problem lines as the pipeline's; a Lambda exports no Prometheus metrics, so none is counted.
  const problems = createProblems(log, null);
  const now = Date.now();
  const failed = new Set<string>();
  const rows = new Map<string, RowItem>();
  const letters: DeadLetter[] = [];
  const repeats: string[] = [];
  for (const record of records) {
    const delivery = deliveryOf(record, now);
    try {
      const outcome = deps.transform(delivery);
      if ("row" in outcome) {
        // The same message twice in one event: one row; both copies share its fate.
        if (rows.has(delivery.messageId)) repeats.push(delivery.messageId);
        else rows.set(delivery.messageId, { delivery, row: outcome.row });
      } else letters.push({ delivery, rejection: outcome.rejection });
    } catch (err) {
      // A bug, not bad input: reported, so Lambda retries it and the redrive policy ends the loop.
      problems.report(
        "processing",
        "TRANSFORM_FAILED",
        { messageId: delivery.messageId, ...describeCause(err) },
        "transform failed",
        { level: "error" },
      );
      failed.add(delivery.messageId);
    }
  }

  const written: Written = { inserted: 0, duplicates: 0, refused: [], unwritten: [] };
  await write(deps.sink, [...rows.values()], written);
  if (written.unwritten.length) {
    problems.report(
      "writing",
      written.errorCode ?? "DB_WRITE_FAILED",
      { rows: written.unwritten.length },
      "batch write failed; reported for redelivery",
    );
    for (const item of written.unwritten) failed.add(item.delivery.messageId);
  }
  if (written.refused.length) {
    problems.report(
      "writing",
      "DB_ROW_REFUSED",
      { messageIds: written.refused.map((i) => i.delivery.messageId) },
      "database refused rows",
    );
    for (const item of written.refused)
      letters.push({ delivery: item.delivery, rejection: REFUSED_BY_DATABASE });
  }

  let rejected = 0;
  if (letters.length) {
    // Bad input, not an error: no error `code`, each rejection's reason instead.
    log.warn(
      { rejections: letters.map((l) => ({ messageId: l.delivery.messageId, reason: l.rejection.code })) },
      "messages rejected",
    );
    if (!deps.deadLetters) {
      // Reported, never deleted: the source queue's own redrive policy moves them
      // to its dead-letter queue after maxReceiveCount receives (without a reason code).
      log.warn(
        { count: letters.length },
        "no dead-letter queue (SQS_DLQ_URL unset): rejections reported as failures",
      );
      for (const l of letters) failed.add(l.delivery.messageId);
    } else {
      try {
        const refusals = await deps.deadLetters.send(letters);
        for (const r of refusals) failed.add(r.letter.delivery.messageId);
        if (refusals.length)
          problems.report(
            "dead-lettering",
            "DLQ_SEND_FAILED",
            { count: refusals.length },
            "dead-letter queue refused messages",
          );
        rejected = letters.length - refusals.length;
      } catch (err) {
        problems.report(
          "dead-lettering",
          codeOf(err, "DLQ_SEND_FAILED"),
          { count: letters.length },
          "dead-letter queue unreachable",
        );
        for (const l of letters) failed.add(l.delivery.messageId);
      }
    }
  }

  const summary: InvocationSummary = {
    records: records.length,
    inserted: written.inserted,
    // A repeat within the event is settled with its first copy.
    duplicates: written.duplicates + repeats.filter((id) => !failed.has(id)).length,
    rejected,
    failed: records.filter((r) => failed.has(r.messageId)).length,
  };
  return { batchItemFailures: [...failed].map((itemIdentifier) => ({ itemIdentifier })), summary };
}
