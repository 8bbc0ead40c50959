// The AWS SDK's own CPU per request, without a network: each SQS client
// variant with its request handler replaced by one that answers at once with
// canned ReceiveMessage (10 messages) and DeleteMessageBatch responses. No
// emulator, no sockets, no other process: what is left is serialization,
// signing, middleware and deserialization (and the MD5 check of each body),
// which is what the client options can change. Part of the sdk phase.
import { createHash, randomUUID } from "node:crypto";
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { HttpResponse } from "@smithy/core/protocols";
import type { NodeHttpHandler } from "@smithy/node-http-handler";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../src/local/embeddedSqs.ts";
import { sampleBodies } from "../src/local/sampleEvents.ts";
import { createVariantClient, SQS_VARIANTS, type VariantName } from "./sqsVariants.ts";
import { type Spread, spread } from "./stats.ts";

export interface MicroResult {
  readonly variant: VariantName;
  /** CPU µs per receive(10) + delete-batch(10) pair, i.e. per 10 messages. */
  readonly cpuUsPerPair: Spread;
}

const PAIRS = 3_000;
const QUEUE_URL = "http://127.0.0.1:1/000000000000/bench";

function cannedResponses(): { receive: Buffer; delete: Buffer } {
  const bodies = [...sampleBodies({ count: 10, malformedRatio: 0, duplicateRatio: 0, seed: 7 })];
  const messages = bodies.map((Body) => ({
    MessageId: randomUUID(),
    ReceiptHandle: randomUUID(),
    MD5OfBody: createHash("md5").update(Body).digest("hex"),
    Body,
    Attributes: { SentTimestamp: String(Date.now()), ApproximateReceiveCount: "1" },
  }));
  return {
    receive: Buffer.from(JSON.stringify({ Messages: messages })),
    delete: Buffer.from(
      JSON.stringify({ Successful: messages.map((_, i) => ({ Id: String(i) })), Failed: [] }),
    ),
  };
}

/** A request handler that never touches the network. */
function cannedHandler(): NodeHttpHandler {
  const canned = cannedResponses();
  const handler = {
    metadata: { handlerProtocol: "http/1.1" },
    async handle(request: { headers: Record<string, string> }) {
      const target = request.headers["x-amz-target"] ?? "";
      const body = target.endsWith("ReceiveMessage") ? canned.receive : canned.delete;
      return {
        response: new HttpResponse({
          statusCode: 200,
          headers: { "content-type": "application/x-amz-json-1.0" },
          body,
        }),
      };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
    destroy() {},
  };
  return handler as unknown as NodeHttpHandler;
}

async function pairs(client: SQSClient, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const res = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: QUEUE_URL,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ["SentTimestamp", "ApproximateReceiveCount"],
      }),
    );
    const messages = res.Messages ?? [];
    await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: QUEUE_URL,
        Entries: messages.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle })),
      }),
    );
  }
}

export async function measureSdkMicro(repeat: number): Promise<MicroResult[]> {
  const names = (Object.keys(SQS_VARIANTS) as VariantName[]).filter(
    (n) => !("keepAlive" in SQS_VARIANTS[n]) && !("maxSockets" in SQS_VARIANTS[n]),
  );
  const clients = new Map<VariantName, SQSClient>();
  for (const name of names) {
    const client = createVariantClient(name, {
      region: LOCAL_REGION,
      endpointUrl: "http://127.0.0.1:1",
      credentials: LOCAL_CREDENTIALS,
      maxSockets: 8,
    });
    // The same client, its network swapped for the canned answers.
    (client.config as { requestHandler: unknown }).requestHandler = cannedHandler();
    await pairs(client, 500); // warm-up
    clients.set(name, client);
  }
  const samples = new Map<VariantName, number[]>(names.map((n) => [n, []]));
  for (let r = 0; r < repeat * 2; r++) {
    for (const name of names) {
      const before = process.cpuUsage();
      await pairs(clients.get(name) as SQSClient, PAIRS);
      const cpu = process.cpuUsage(before);
      samples.get(name)?.push((cpu.user + cpu.system) / PAIRS);
    }
  }
  for (const c of clients.values()) c.destroy();
  return names.map((variant) => ({ variant, cpuUsPerPair: spread(samples.get(variant) ?? []) }));
}
