// An SQS record as the Lambda event source mapping delivers it, as the
// pipeline's Delivery. Lambda deletes what the handler does not report as
// failed, so the receipt handle is kept only for completeness.
import type { SQSRecord } from "aws-lambda";
import type { Delivery } from "../pipeline/contracts.ts";

export function deliveryOf(record: SQSRecord, receivedAtMs: number): Delivery {
  return {
    messageId: record.messageId,
    body: record.body,
    bytes: record.body.length,
    sentAtMs: Number(record.attributes.SentTimestamp),
    receiveCount: Number(record.attributes.ApproximateReceiveCount),
    receivedAtMs,
    handle: record.receiptHandle,
  };
}
