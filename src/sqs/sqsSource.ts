// Source over an SQS queue: long polling, ack = DeleteMessageBatch,
// release = visibility 0, extend = the visibility heartbeat. The hot path, so
// it speaks through the lean client (src/sqs/), whose failures are already
// EtlErrors of the catalogue.
import type { Delivery, ReceiveOptions, Source } from "../pipeline/contracts.ts";
import { pingQueue } from "./sqsQueueInfo.ts";
import type { Message, SqsJsonClient } from "./types.ts";

const SQS_BATCH_MAX = 10;

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function toDelivery(m: Message, receivedAtMs: number): Delivery {
  const sent = Number(m.Attributes?.SentTimestamp);
  const body = m.Body ?? "";
  return {
    messageId: m.MessageId ?? "",
    body,
    bytes: body.length,
    // SentTimestamp is requested on every receive; the receive time stands in only if an endpoint omits it.
    sentAtMs: Number.isFinite(sent) && sent > 0 ? sent : receivedAtMs,
    receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 1),
    receivedAtMs,
    handle: m.ReceiptHandle ?? "",
  };
}

/** Runs a batch call per chunk of 10 and resolves to the items SQS reported as failed. */
async function perChunk<T>(
  items: readonly T[],
  call: (entries: T[]) => Promise<{ readonly Failed?: ReadonlyArray<{ readonly Id?: string }> | undefined }>,
): Promise<T[]> {
  const results = await Promise.all(
    chunk(items, SQS_BATCH_MAX).map(async (entries) => {
      const res = await call(entries);
      return (res.Failed ?? []).map((f) => entries[Number(f.Id)]).filter((x): x is T => x !== undefined);
    }),
  );
  return results.flat();
}

export function createSqsSource(client: SqsJsonClient, queueUrl: string): Source {
  const changeVisibility = (deliveries: readonly Delivery[], seconds: number, operationLabel: string) =>
    perChunk(deliveries, (entries) =>
      client.changeMessageVisibilityBatch(
        {
          QueueUrl: queueUrl,
          Entries: entries.map((d, i) => ({
            Id: String(i),
            ReceiptHandle: d.handle,
            VisibilityTimeout: seconds,
          })),
        },
        { operationLabel, stage: "acking" },
      ),
    );

  return {
    async receive({ maxMessages, waitTimeSeconds, signal }: ReceiveOptions) {
      const res = await client.receiveMessage(
        {
          QueueUrl: queueUrl,
          MaxNumberOfMessages: maxMessages,
          WaitTimeSeconds: waitTimeSeconds,
          MessageSystemAttributeNames: ["SentTimestamp", "ApproximateReceiveCount"],
          // The older name as well: some emulators (LocalStack < 3.5, ElasticMQ < 1.6.2) know only it.
          AttributeNames: ["SentTimestamp", "ApproximateReceiveCount"],
        },
        { abortSignal: signal },
      );
      const now = Date.now();
      return (res.Messages ?? []).map((m) => toDelivery(m, now));
    },
    ack: (deliveries) =>
      perChunk(deliveries, (entries) =>
        client.deleteMessageBatch({
          QueueUrl: queueUrl,
          Entries: entries.map((d, i) => ({ Id: String(i), ReceiptHandle: d.handle })),
        }),
      ),
    release: (deliveries) => changeVisibility(deliveries, 0, "ChangeMessageVisibilityBatch(release)"),
    extend: (deliveries, seconds) =>
      changeVisibility(deliveries, seconds, "ChangeMessageVisibilityBatch(extend)"),
    healthcheck: () => pingQueue(client, queueUrl),
  };
}
