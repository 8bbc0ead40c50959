// 1. Queue limit: the plain drain loop (bench/queueDrainLoop.ts, login-etl's
// SQS client) in a process of its own. Probes each poller count on smaller
// queues, then measures the best one on queues as large as the pipeline's
// (fauxqs gets slower per message as its backlog grows, so the two must match).
// Each repetition also runs the same loop with the lean client (src/sqs), at
// the same poller count, right after the SDK's, so both see the same machine.
import path from "node:path";
import { expectSuccess } from "./child.ts";
import type { LoopVariant } from "./loopClients.ts";
import { measureDrain } from "./measureDrain.ts";
import type { QueueLoopReport } from "./queueDrainLoop.ts";
import { BENCH_DIR, nodeBinary, REPO_ROOT, RESULTS_DIR } from "./settings.ts";
import type { Stack } from "./stack.ts";
import { median, type Spread, spread } from "./stats.ts";

export interface QueueRun {
  readonly pollers: number;
  readonly variant: LoopVariant;
  readonly messages: number;
  readonly produceMessagesPerSecond: number;
  readonly messagesPerSecond: number;
  /** CPU of the loop process per message while messages flowed, µs (the SDK's cost). */
  readonly consumerCpuUsPerMessage: number;
  readonly emulatorCpuUsPerMessage: number;
  /** CPU of everything else on the machine during the run, per message, µs (other work = noise). */
  readonly otherCpuUsPerMessage: number;
}

export interface QueueLimitResult {
  readonly probe: QueueRun[];
  /** Median messages/s of each poller count over the probe repetitions. */
  readonly probeMedians: Array<{ pollers: number; messagesPerSecond: number }>;
  readonly bestPollers: number;
  readonly runs: QueueRun[];
  readonly messagesPerSecond: Spread;
  readonly consumerCpuUsPerMessage: Spread;
  readonly emulatorCpuUsPerMessage: Spread;
  /** The same loop with the lean client, at bestPollers, one run per repetition. */
  readonly lean: {
    readonly runs: QueueRun[];
    readonly messagesPerSecond: Spread;
    readonly consumerCpuUsPerMessage: Spread;
    readonly emulatorCpuUsPerMessage: Spread;
  };
}

let queueSerial = 0;

export async function queueRun(
  stack: Stack,
  pollers: number,
  messages: number,
  variant: LoopVariant = "product",
): Promise<QueueRun> {
  const name = `bench-queue-${++queueSerial}`;
  const { queueUrl } = await stack.emulator.createQueues(name);
  try {
    const produceMessagesPerSecond = await stack.produce(queueUrl, messages);
    const m = await measureDrain(stack, {
      queueName: name,
      total: messages,
      fed: false,
      command: nodeBinary(),
      args: [path.join(BENCH_DIR, "queueDrainLoop.ts")],
      cwd: REPO_ROOT,
      env: stack.etlEnv({
        BENCH_QUEUE_URL: queueUrl,
        BENCH_ENDPOINT_URL: stack.emulator.endpointUrl,
        BENCH_POLLERS: String(pollers),
        BENCH_SQS_VARIANT: variant,
        BENCH_ETL_ROOT: stack.settings.etlRoot,
        ...(stack.settings.profile
          ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${path.join(RESULTS_DIR, "profiles", name)}` }
          : {}),
      }),
    });
    expectSuccess(m.child, "the plain drain loop");
    const report = JSON.parse(m.child.stdout.trim().split("\n").at(-1) ?? "{}") as QueueLoopReport;
    if (report.received !== messages)
      throw new Error(`the plain drain loop received ${report.received} of ${messages}`);
    return {
      pollers,
      variant,
      messages,
      produceMessagesPerSecond,
      messagesPerSecond: m.messagesPerSecond,
      consumerCpuUsPerMessage: (m.steadyCpuSeconds * 1e6) / messages,
      emulatorCpuUsPerMessage: (m.emulatorCpuSeconds * 1e6) / messages,
      otherCpuUsPerMessage: (m.otherCpuSeconds * 1e6) / messages,
    };
  } finally {
    await stack.emulator.deleteQueues(name);
  }
}

export async function measureQueueLimit(
  stack: Stack,
  log: (line: string) => void,
): Promise<QueueLimitResult> {
  const { settings } = stack;
  // Every poller count once per repetition, interleaved, so that a burst of
  // background load does not decide the winner alone; the best median wins.
  const probe: QueueRun[] = [];
  for (let r = 0; r < settings.repeat; r++) {
    for (const pollers of settings.pollerCounts) {
      const run = await queueRun(stack, pollers, settings.probeMessages);
      log(
        `  queue probe ${r + 1}/${settings.repeat}: ${pollers} pollers, ${settings.probeMessages} messages → ${Math.round(run.messagesPerSecond)} msg/s`,
      );
      probe.push(run);
    }
  }
  const probeMedians = settings.pollerCounts.map((pollers) => ({
    pollers,
    messagesPerSecond: median(probe.filter((p) => p.pollers === pollers).map((p) => p.messagesPerSecond)),
  }));
  const best = probeMedians.reduce((a, b) => (b.messagesPerSecond > a.messagesPerSecond ? b : a));
  const runs: QueueRun[] = [];
  const leanRuns: QueueRun[] = [];
  const describe = (run: QueueRun) =>
    `${Math.round(run.messagesPerSecond)} msg/s, ${Math.round(run.consumerCpuUsPerMessage)} µs CPU/msg`;
  for (let r = 0; r < settings.repeat; r++) {
    const run = await queueRun(stack, best.pollers, settings.messages);
    log(
      `  queue limit ${r + 1}/${settings.repeat}: ${best.pollers} pollers, ${settings.messages} messages → ${describe(run)}`,
    );
    runs.push(run);
    const lean = await queueRun(stack, best.pollers, settings.messages, "lean");
    log(`  queue limit ${r + 1}/${settings.repeat}, lean client: → ${describe(lean)}`);
    leanRuns.push(lean);
  }
  return {
    probe,
    probeMedians,
    bestPollers: best.pollers,
    runs,
    messagesPerSecond: spread(runs.map((r) => r.messagesPerSecond)),
    consumerCpuUsPerMessage: spread(runs.map((r) => r.consumerCpuUsPerMessage)),
    emulatorCpuUsPerMessage: spread(runs.map((r) => r.emulatorCpuUsPerMessage)),
    lean: {
      runs: leanRuns,
      messagesPerSecond: spread(leanRuns.map((r) => r.messagesPerSecond)),
      consumerCpuUsPerMessage: spread(leanRuns.map((r) => r.consumerCpuUsPerMessage)),
      emulatorCpuUsPerMessage: spread(leanRuns.map((r) => r.emulatorCpuUsPerMessage)),
    },
  };
}
