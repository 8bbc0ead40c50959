// Real SQS messages received from the emulator, shaped the way an SQS event
// source mapping hands them to a Lambda function, and settled the way Lambda
// settles them after the handler returns (it deletes what was not reported as
// failed; the failed ones become visible again).
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { LOCAL_REGION } from "../../src/local/embeddedSqs.ts";

/** The queue's ARN as Lambda reports it in eventSourceARN (the emulator's account id). */
export const queueArn = (queueUrl: string) =>
  `arn:aws:sqs:${LOCAL_REGION}:000000000000:${queueUrl.split("/").pop()}`;

export function toLambdaRecord(message: Message, queueUrl: string): SQSRecord {
  const a = message.Attributes ?? {};
  return {
    messageId: message.MessageId as string,
    receiptHandle: message.ReceiptHandle as string,
    body: message.Body as string,
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount as string,
      SentTimestamp: a.SentTimestamp as string,
      SenderId: a.SenderId ?? "000000000000",
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp as string,
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody as string,
    eventSource: "aws:sqs",
    eventSourceARN: queueArn(queueUrl),
    awsRegion: LOCAL_REGION,
  };
}

/** Receives until `count` messages are in hand (invisible for `visibilitySeconds`); one event of them. */
export async function receiveEvent(
  sqs: SQSClient,
  queueUrl: string,
  count: number,
  visibilitySeconds = 120,
): Promise<SQSEvent> {
  const records: SQSRecord[] = [];
  for (let empty = 0; records.length < count && empty < 20; ) {
    const res = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: Math.min(10, count - records.length),
        WaitTimeSeconds: 1,
        VisibilityTimeout: visibilitySeconds,
        MessageSystemAttributeNames: ["All"],
        MessageAttributeNames: ["All"],
      }),
    );
    const got = res.Messages ?? [];
    records.push(...got.map((m) => toLambdaRecord(m, queueUrl)));
    empty = got.length ? 0 : empty + 1;
  }
  if (records.length !== count) throw new Error(`received ${records.length} of ${count} messages`);
  return { Records: records };
}

/** What Lambda does with the handler's answer: delete the rest, make the failures visible again (at once, for the test). */
export async function settleLikeLambda(
  sqs: SQSClient,
  queueUrl: string,
  event: SQSEvent,
  response: SQSBatchResponse,
): Promise<void> {
  const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
  const entries = (records: SQSRecord[]) =>
    records.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle }));
  const done = event.Records.filter((r) => !failed.has(r.messageId));
  const retry = event.Records.filter((r) => failed.has(r.messageId));
  for (let i = 0; i < done.length; i += 10)
    await sqs.send(
      new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries(done.slice(i, i + 10)) }),
    );
  for (let i = 0; i < retry.length; i += 10)
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: entries(retry.slice(i, i + 10)).map((e) => ({ ...e, VisibilityTimeout: 0 })),
      }),
    );
}
