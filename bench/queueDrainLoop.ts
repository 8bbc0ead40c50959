// Child process: the plainest drain loop of the emulator, for the queue limit.
// Each poller receives 10 (same request as login-etl's source) and deletes
// them with one DeleteMessageBatch, until a receive comes back empty. Prints
// one JSON line (QueueLoopReport) on stdout.
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { DEFAULTS } from "../src/config.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../src/local/embeddedSqs.ts";
import { createVariantClient, isVariant } from "./sqsVariants.ts";

export interface QueueLoopReport {
  readonly received: number;
  /** First receive sent → last delete answered. */
  readonly seconds: number;
  /** CPU seconds of this process over that loop (the SDK's share of the queue limit). */
  readonly loopCpuSeconds: number;
}

const env = process.env;
const queueUrl = env.BENCH_QUEUE_URL as string;
const pollers = Number(env.BENCH_POLLERS ?? 4);
const variant = env.BENCH_SQS_VARIANT ?? "product";
if (!isVariant(variant)) throw new Error(`unknown BENCH_SQS_VARIANT ${variant}`);
// The same socket budget login-etl gives itself: pollers + writers × 4 + 8.
const maxSockets = pollers + Number(DEFAULTS.writers) * 4 + 8;
const client = await createVariantClient(
  variant,
  {
    region: LOCAL_REGION,
    endpointUrl: env.BENCH_ENDPOINT_URL as string,
    credentials: LOCAL_CREDENTIALS,
    maxSockets,
  },
  env.BENCH_ETL_ROOT as string,
);

let received = 0;
let lastDeleteAt = 0;
async function poll(): Promise<void> {
  for (;;) {
    const res = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ["SentTimestamp", "ApproximateReceiveCount"],
      }),
    );
    const messages = res.Messages ?? [];
    if (messages.length === 0) return;
    received += messages.length;
    const del = await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
      }),
    );
    if (del.Failed?.length) throw new Error(`DeleteMessageBatch failed for ${del.Failed.length} entries`);
    lastDeleteAt = performance.now();
  }
}

const cpuBefore = process.cpuUsage();
const started = performance.now();
await Promise.all(Array.from({ length: pollers }, poll));
const cpu = process.cpuUsage(cpuBefore);
client.destroy();
const report: QueueLoopReport = {
  received,
  seconds: (lastDeleteAt - started) / 1000,
  loopCpuSeconds: (cpu.user + cpu.system) / 1e6,
};
process.stdout.write(`${JSON.stringify(report)}\n`);
