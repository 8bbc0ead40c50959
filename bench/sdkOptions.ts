// Optional phase (BENCH_ONLY=…,sdk): the plain drain loop with each SQS
// client variant of bench/sqsVariants.ts, interleaved across repetitions so
// that background noise falls on all of them alike. Prices the SDK options
// (MD5 check, checksums, keep-alive, socket count) per message.
import { queueRun } from "./queueLimit.ts";
import { type MicroResult, measureSdkMicro } from "./sdkMicro.ts";
import { SQS_VARIANTS, type VariantName } from "./sqsVariants.ts";
import type { Stack } from "./stack.ts";
import { type Spread, spread } from "./stats.ts";

export interface VariantResult {
  readonly variant: VariantName;
  readonly description: string;
  readonly messagesPerSecond: Spread;
  readonly consumerCpuUsPerMessage: Spread;
  readonly emulatorCpuUsPerMessage: Spread;
}

export interface SdkResult {
  /** SDK CPU per receive + delete pair without a network (bench/sdkMicro.ts). */
  readonly micro: MicroResult[];
  readonly pollers: number;
  readonly messages: number;
  readonly variants: VariantResult[];
}

export async function measureSdkOptions(
  stack: Stack,
  pollers: number,
  log: (line: string) => void,
): Promise<SdkResult> {
  const { settings } = stack;
  log("  SDK CPU without a network…");
  const micro = await measureSdkMicro(settings.repeat);
  const names = Object.keys(SQS_VARIANTS) as VariantName[];
  const runs = new Map<VariantName, Array<Awaited<ReturnType<typeof queueRun>>>>(names.map((n) => [n, []]));
  for (let r = 0; r < settings.repeat; r++) {
    for (const name of names) {
      const run = await queueRun(stack, pollers, settings.probeMessages, name);
      log(
        `  sdk ${r + 1}/${settings.repeat} ${name}: ${Math.round(run.messagesPerSecond)} msg/s, ${Math.round(run.consumerCpuUsPerMessage)} µs CPU/msg`,
      );
      runs.get(name)?.push(run);
    }
  }
  return {
    micro,
    pollers,
    messages: settings.probeMessages,
    variants: names.map((variant) => {
      const list = runs.get(variant) ?? [];
      return {
        variant,
        description: SQS_VARIANTS[variant].description,
        messagesPerSecond: spread(list.map((x) => x.messagesPerSecond)),
        consumerCpuUsPerMessage: spread(list.map((x) => x.consumerCpuUsPerMessage)),
        emulatorCpuUsPerMessage: spread(list.map((x) => x.emulatorCpuUsPerMessage)),
      };
    }),
  };
}
