// Sending bodies to a queue with SendMessageBatch, several batches at once:
// for `produce`, the demo and the benchmarks.
import {
  SendMessageBatchCommand,
  type SendMessageBatchCommandOutput,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { sqsError } from "./sqsClient.ts";

export async function sendBodies(
  client: SQSClient,
  queueUrl: string,
  bodies: Iterable<string>,
  concurrency = 8,
): Promise<number> {
  const iterator = bodies[Symbol.iterator]();
  let sent = 0;
  const nextBatch = (): string[] => {
    const batch: string[] = [];
    let bytes = 0;
    while (batch.length < 10) {
      const next = iterator.next();
      if (next.done) break;
      batch.push(next.value);
      bytes += Buffer.byteLength(next.value);
      if (bytes > 200_000) break;
    }
    return batch;
  };
  const worker = async () => {
    for (let batch = nextBatch(); batch.length; batch = nextBatch()) {
      let res: SendMessageBatchCommandOutput;
      try {
        res = await client.send(
          new SendMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: batch.map((body, i) => ({ Id: String(i), MessageBody: body })),
          }),
        );
      } catch (err) {
        throw sqsError(err, "SendMessageBatch", queueUrl, "processing");
      }
      if (res.Failed?.length)
        throw sqsError(
          new Error("SendMessageBatch refused entries"),
          "SendMessageBatch",
          queueUrl,
          "processing",
        );
      sent += batch.length;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return sent;
}
