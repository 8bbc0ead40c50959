// Sending bodies to a queue with SendMessageBatch through the lean client,
// several batches at once: for `produce`, the demo and the benchmarks. Every
// entry must get through: a refused one ends the run with an EtlError
// (src/sqs/errorMapping.ts), as does a failed request.
import type { Stage } from "../errors.ts";
import { errorFromRefusedEntries } from "./errorMapping.ts";
import type { BatchResultErrorEntry, SqsJsonClient } from "./types.ts";

const OPERATION = "SendMessageBatch";
const STAGE: Stage = "processing";

export async function sendBodies(
  client: SqsJsonClient,
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
      const res = await client.sendMessageBatch(
        {
          QueueUrl: queueUrl,
          Entries: batch.map((body, i) => ({ Id: String(i), MessageBody: body })),
        },
        { stage: STAGE },
      );
      // Accepted means listed in Successful: an entry SQS reported neither way was not sent.
      const ok = new Set(res.Successful.map((e) => e.Id));
      const failed = new Map(res.Failed.map((f) => [f.Id, f]));
      const refused = batch.flatMap((_, i): BatchResultErrorEntry[] =>
        ok.has(String(i))
          ? []
          : [failed.get(String(i)) ?? { Id: String(i), Code: "NotAcknowledged", SenderFault: false }],
      );
      if (refused.length)
        throw errorFromRefusedEntries(refused, batch.length, {
          operation: OPERATION,
          queue: queueUrl,
          stage: STAGE,
        });
      sent += batch.length;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return sent;
}
