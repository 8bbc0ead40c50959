// `login-etl produce --count N`: synthetic login events onto the queue.
import { COMMAND_SETTINGS, type Flags, loadConfig } from "../config.ts";
import { EtlError } from "../errors.ts";
import { sampleBodies } from "../local/sampleEvents.ts";
import { sqsClientFor } from "../sqs/jsonClient.ts";
import { sendBodies } from "../sqs/sqsProducer.ts";
import { type CommandContext, print } from "./context.ts";

function wholeNumber(name: string, value: unknown, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new EtlError("USAGE_INVALID", `--${name}: expected a whole number from ${min} to ${max}`);
  }
  return n;
}

function ratio(name: string, value: unknown): number {
  const n = Number(value ?? 0);
  if (!(n >= 0 && n <= 1)) throw new EtlError("USAGE_INVALID", `--${name}: expected a number from 0 to 1`);
  return n;
}

export async function produceCommand(
  ctx: CommandContext,
  flags: Flags & {
    count?: string;
    duplicateRatio?: string;
    malformedRatio?: string;
    seed?: string;
    concurrency?: string;
  },
): Promise<number> {
  const count = wholeNumber("count", flags.count, 1, 100_000_000);
  const duplicateRatio = ratio("duplicate-ratio", flags.duplicateRatio);
  const malformedRatio = ratio("malformed-ratio", flags.malformedRatio);
  const seed = wholeNumber("seed", flags.seed ?? String(Date.now() % 2 ** 31), 0, 2 ** 31 - 1);
  const concurrency = wholeNumber("concurrency", flags.concurrency ?? "8", 1, 64);
  const config = loadConfig(ctx.env, flags, new Set(["queue"]), COMMAND_SETTINGS.produce);
  // The lean client, built as run and check build it (AWS_REGION, SQS_ENDPOINT_URL, the
  // AWS SDK's credential chain); its errors come from src/sqs/errorMapping.ts.
  const client = sqsClientFor(config, { maxSockets: concurrency + 2 });
  const started = performance.now();
  try {
    const sent = await sendBodies(
      client,
      config.queueUrl as string,
      sampleBodies({ count, duplicateRatio, malformedRatio, seed }),
      concurrency,
    );
    const seconds = (performance.now() - started) / 1000;
    print(
      ctx.stdout,
      `sent ${sent} messages in ${seconds.toFixed(1)} s (${Math.round(sent / seconds)}/s), seed ${seed}`,
    );
    return 0;
  } finally {
    client.destroy();
  }
}
