// The two clients the plain drain loop (bench/queueDrainLoop.ts) can drive:
// the AWS SDK (one of the option variants of bench/sqsVariants.ts, "product"
// being the SDK client login-etl used to ship) and the lean AWS JSON client (src/sqs/jsonClient.ts).
// Both make the same two requests: receive 10 with the system attributes the
// source asks for, then one DeleteMessageBatch of what came.
import path from "node:path";
import { pathToFileURL } from "node:url";
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { type ClientSettings, createVariantClient, isVariant, type VariantName } from "./sqsVariants.ts";

export type LoopVariant = VariantName | "lean";

export const LEAN_DESCRIPTION =
  "lean client: node:http keep-alive, AWS JSON 1.0, SigV4 on node:crypto (src/sqs)";

export function isLoopVariant(name: string): name is LoopVariant {
  return name === "lean" || isVariant(name);
}

export interface LoopClient {
  /** Receipt handles of up to 10 messages (none when the queue is empty for the 1 s wait). */
  receive(): Promise<string[]>;
  /** Deletes them in one batch; how many SQS refused. */
  remove(handles: readonly string[]): Promise<number>;
  destroy(): void;
}

const SYSTEM_ATTRIBUTES = ["SentTimestamp", "ApproximateReceiveCount"] as const;

export async function createLoopClient(
  variant: LoopVariant,
  queueUrl: string,
  settings: ClientSettings,
  etlRoot: string,
): Promise<LoopClient> {
  const entries = (handles: readonly string[]) =>
    handles.map((ReceiptHandle, i) => ({ Id: String(i), ReceiptHandle }));
  if (variant === "lean") {
    const { createSqsJsonClient } = (await import(
      pathToFileURL(path.join(etlRoot, "src/sqs/jsonClient.ts")).href
    )) as typeof import("../src/sqs/jsonClient.ts");
    const client = createSqsJsonClient({
      region: settings.region,
      endpoint: settings.endpointUrl,
      credentials: settings.credentials,
      maxSockets: settings.maxSockets,
    });
    return {
      async receive() {
        const res = await client.receiveMessage({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          MessageSystemAttributeNames: SYSTEM_ATTRIBUTES,
        });
        return (res.Messages ?? []).map((m) => m.ReceiptHandle as string);
      },
      async remove(handles) {
        const res = await client.deleteMessageBatch({ QueueUrl: queueUrl, Entries: entries(handles) });
        return res.Failed.length;
      },
      destroy: () => client.destroy(),
    };
  }
  const client = createVariantClient(variant, settings);
  return {
    async receive() {
      const res = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          MessageSystemAttributeNames: [...SYSTEM_ATTRIBUTES],
        }),
      );
      return (res.Messages ?? []).map((m) => m.ReceiptHandle as string);
    },
    async remove(handles) {
      const res = await client.send(
        new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries(handles) }),
      );
      return res.Failed?.length ?? 0;
    },
    destroy: () => client.destroy(),
  };
}
