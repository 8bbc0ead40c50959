// Dead letters to an SQS queue: the body byte for byte, with the reason as
// message attributes (error_code, error_detail; never a value of the body)
// and the source MessageId, so a repeated dead letter can be recognised.
import {
  SendMessageBatchCommand,
  type SendMessageBatchCommandOutput,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { DeadLetter, DeadLetterQueue, Refusal } from "../pipeline/contracts.ts";
import { sqsError } from "./sqsClient.ts";

const MAX_ENTRIES = 10;
// SendMessageBatch caps the whole request at 256 KiB; leave room for attributes.
const MAX_BATCH_BYTES = 240 * 1024;

function groups(letters: readonly DeadLetter[]): DeadLetter[][] {
  const out: DeadLetter[][] = [];
  let current: DeadLetter[] = [];
  let bytes = 0;
  for (const letter of letters) {
    const size = Buffer.byteLength(letter.delivery.body) + 512;
    if (current.length && (current.length === MAX_ENTRIES || bytes + size > MAX_BATCH_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(letter);
    bytes += size;
  }
  if (current.length) out.push(current);
  return out;
}

export function createSqsDeadLetterQueue(client: SQSClient, dlqUrl: string): DeadLetterQueue {
  return {
    async send(letters) {
      const failed = await Promise.all(
        groups(letters).map(async (group) => {
          let res: SendMessageBatchCommandOutput;
          try {
            res = await client.send(
              new SendMessageBatchCommand({
                QueueUrl: dlqUrl,
                Entries: group.map((l, i) => ({
                  Id: String(i),
                  MessageBody: l.delivery.body,
                  MessageAttributes: {
                    error_code: { DataType: "String", StringValue: l.rejection.code },
                    error_detail: { DataType: "String", StringValue: l.rejection.detail },
                    source_message_id: { DataType: "String", StringValue: l.delivery.messageId },
                  },
                })),
              }),
            );
          } catch (err) {
            throw sqsError(err, "SendMessageBatch", dlqUrl, "dead-lettering");
          }
          // Accepted means listed in Successful: an entry SQS reported neither way is sent again.
          const ok = new Set((res.Successful ?? []).map((e) => e.Id));
          const failedById = new Map((res.Failed ?? []).map((f) => [f.Id, f]));
          return group.flatMap((letter, i): Refusal[] => {
            if (ok.has(String(i))) return [];
            const f = failedById.get(String(i));
            return [{ letter, permanent: f?.SenderFault === true, code: f?.Code ?? "NotAcknowledged" }];
          });
        }),
      );
      return failed.flat();
    },
  };
}
