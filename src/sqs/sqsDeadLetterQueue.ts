// Dead letters to an SQS queue: the body byte for byte, with the reason as
// message attributes (error_code, error_detail; never a value of the body)
// and the source MessageId, so a repeated dead letter can be recognised.
import { isEtlError } from "../errors.ts";
import type { DeadLetter, DeadLetterQueue, Refusal } from "../pipeline/contracts.ts";
import type { BatchOutput, SendMessageBatchResultEntry, SqsJsonClient } from "./types.ts";

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

/** Requests under way at once, across every caller: each carries up to 240 KiB of bodies. */
const DEFAULT_CONCURRENCY = 4;
/** A DLQ that takes no answer for this long is treated as down for this try. */
const SEND_TIMEOUT_MS = 10_000;

export function createSqsDeadLetterQueue(
  client: SqsJsonClient,
  dlqUrl: string,
  options: { concurrency?: number } = {},
): DeadLetterQueue {
  const slots = createSlots(options.concurrency ?? DEFAULT_CONCURRENCY);

  async function sendGroup(group: DeadLetter[], signal?: AbortSignal): Promise<Refusal[]> {
    let res: BatchOutput<SendMessageBatchResultEntry>;
    try {
      res = await slots.run(() =>
        client.sendMessageBatch(
          {
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
          },
          {
            abortSignal: signal
              ? AbortSignal.any([signal, AbortSignal.timeout(SEND_TIMEOUT_MS)])
              : AbortSignal.timeout(SEND_TIMEOUT_MS),
          },
        ),
      );
    } catch (err) {
      if (!isEtlError(err)) throw err;
      const failure = err;
      // Only this request's letters: the other groups of the same call stand on their own.
      return group.map((letter) => ({
        letter,
        permanent: !failure.retryable,
        code: failure.code,
        requestFailed: true,
      }));
    }
    // Accepted means listed in Successful: an entry SQS reported neither way is sent again.
    const ok = new Set((res.Successful ?? []).map((e) => e.Id));
    const failedById = new Map((res.Failed ?? []).map((f) => [f.Id, f]));
    return group.flatMap((letter, i): Refusal[] => {
      if (ok.has(String(i))) return [];
      const f = failedById.get(String(i));
      return [
        {
          letter,
          permanent: f?.SenderFault === true,
          code: f?.Code ?? "NotAcknowledged",
          requestFailed: false,
        },
      ];
    });
  }

  return {
    async send(letters, signal) {
      const refusals = await Promise.all(groups(letters).map((group) => sendGroup(group, signal)));
      return refusals.flat();
    },
  };
}

/** At most `limit` tasks at once; the rest wait their turn in order. */
function createSlots(limit: number) {
  let busy = 0;
  const waiting: Array<() => void> = [];
  return {
    async run<T>(task: () => Promise<T>): Promise<T> {
      if (busy >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
      else busy++;
      try {
        return await task();
      } finally {
        const next = waiting.shift();
        if (next) next();
        else busy--;
      }
    },
  };
}
