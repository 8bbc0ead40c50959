// Child process: the plainest drain loop of the emulator, for the queue limit.
// Each poller receives 10 (same request as login-etl's source) and deletes
// them with one DeleteMessageBatch, until a receive comes back empty. The
// client is the AWS SDK or the lean client (bench/loopClients.ts, chosen by
// BENCH_SQS_VARIANT). Prints one JSON line (QueueLoopReport) on stdout.
import { DEFAULTS } from "../src/config.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../src/local/embeddedSqs.ts";
import { createLoopClient, isLoopVariant } from "./loopClients.ts";

export interface QueueLoopReport {
  readonly received: number;
  /** First receive sent → last delete answered. */
  readonly seconds: number;
  /** CPU seconds of this process over that loop (the SQS client's share of the queue limit). */
  readonly loopCpuSeconds: number;
}

const env = process.env;
const queueUrl = env.BENCH_QUEUE_URL as string;
const pollers = Number(env.BENCH_POLLERS ?? 4);
const variant = env.BENCH_SQS_VARIANT ?? "product";
if (!isLoopVariant(variant)) throw new Error(`unknown BENCH_SQS_VARIANT ${variant}`);
// The same socket budget login-etl gives itself: pollers + writers × 4 + 8.
const maxSockets = pollers + Number(DEFAULTS.writers) * 4 + 8;
const client = await createLoopClient(
  variant,
  queueUrl,
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
    const handles = await client.receive();
    if (handles.length === 0) return;
    received += handles.length;
    const failed = await client.remove(handles);
    if (failed) throw new Error(`DeleteMessageBatch failed for ${failed} entries`);
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
