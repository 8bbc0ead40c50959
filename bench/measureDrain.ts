// Runs one consumer process (login-etl drain, or the plain loop) against a
// queue and watches it from outside every 100 ms: queue depth on the emulator
// (how many messages are done), the consumer's RSS, and the CPU time of the
// emulator, the database server and the whole machine. Throughput is measured
// the same way for every consumer: messages / (first message taken → queue
// empty), as the emulator sees it, so process start-up and the final
// empty-queue wait count for none of them.
import { type ChildRun, runChild } from "./child.ts";
import { machineBusySeconds, processCpuSeconds, processMemory } from "./proc.ts";
import type { Stack } from "./stack.ts";

export interface Sample {
  /** ms since the consumer was spawned. */
  readonly t: number;
  /** Messages deleted from the queue so far. */
  readonly done: number;
  /** Messages received and not yet deleted. */
  readonly inFlight: number;
  readonly rssBytes: number | null;
  /** The consumer's CPU seconds so far (user + system, from /proc). */
  readonly cpuSeconds: number | null;
}

export interface DrainMeasurement {
  readonly total: number;
  /** The window: first message taken → queue empty, seconds (±0.1 s). */
  readonly seconds: number;
  readonly messagesPerSecond: number;
  /** The consumer's CPU seconds in that window (start-up and shutdown left out). */
  readonly steadyCpuSeconds: number;
  /** Spawn → first message taken. */
  readonly startupSeconds: number;
  /** CPU seconds of the emulator and of PostgreSQL in that window. */
  readonly emulatorCpuSeconds: number;
  readonly postgresCpuSeconds: number;
  /** CPU seconds of everything else on the machine in that window (other people's work: noise). */
  readonly otherCpuSeconds: number;
  readonly timeline: Sample[];
  readonly child: ChildRun;
}

export interface DrainOptions {
  readonly queueName: string;
  /** Messages that will have passed through when the queue is done. */
  readonly total: number;
  /** The queue is fed while it drains (bench/fauxqsServer.ts feed) rather than filled before. */
  readonly fed: boolean;
  readonly command: string;
  readonly args: string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly logFile?: string;
}

interface Snapshot {
  readonly emulator: number;
  readonly postgres: number;
  readonly machine: number;
  readonly bench: number;
  readonly consumer: number;
}

function snapshot(stack: Stack, pid: number): Snapshot {
  const own = process.cpuUsage();
  return {
    emulator: stack.emulator.cpuSeconds(),
    postgres: stack.postgresCpuSeconds(),
    machine: machineBusySeconds(),
    bench: (own.user + own.system) / 1e6,
    consumer: processCpuSeconds(pid) ?? Number.NaN,
  };
}

export async function measureDrain(stack: Stack, options: DrainOptions): Promise<DrainMeasurement> {
  const timeline: Sample[] = [];
  const spawned = performance.now();
  // (`as`: the assignments happen in a callback, which TypeScript's narrowing does not follow.)
  let first = null as Snapshot | null;
  let last = null as Snapshot | null;
  const child = await runChild(options.command, options.args, {
    cwd: options.cwd,
    env: options.env,
    tickMs: 100,
    timeoutMs: 60 * 60_000,
    ...(options.logFile ? { logFile: options.logFile } : {}),
    async onTick(pid) {
      if (last) return;
      const counts = await stack.emulator.counts(options.queueName);
      const supplied = options.fed ? counts.fed : options.total;
      const done = supplied - counts.visible - counts.inFlight;
      timeline.push({
        t: performance.now() - spawned,
        done,
        inFlight: counts.inFlight,
        rssBytes: processMemory(pid)?.rss ?? null,
        cpuSeconds: processCpuSeconds(pid),
      });
      if (!first && done + counts.inFlight > 0) first = snapshot(stack, pid);
      if (done >= options.total) last = snapshot(stack, pid);
    },
  });
  if (!first || !last)
    throw new Error(
      `the consumer exited before the queue was empty (exit ${child.code}):\n${child.stderrTail.trim()}`,
    );
  const a: Snapshot = first;
  const b: Snapshot = last;
  const startIndex = timeline.findIndex((s) => s.done + s.inFlight > 0);
  const endIndex = timeline.findIndex((s) => s.done >= options.total);
  // The event happened between the sample before and this one: take the middle.
  const when = (i: number) =>
    i <= 0 ? (timeline[0]?.t ?? 0) : ((timeline[i - 1]?.t ?? 0) + (timeline[i]?.t ?? 0)) / 2;
  const start = when(startIndex);
  const seconds = (when(endIndex) - start) / 1000;
  const consumer = b.consumer - a.consumer;
  const emulator = b.emulator - a.emulator;
  const postgres = b.postgres - a.postgres;
  return {
    total: options.total,
    seconds,
    messagesPerSecond: options.total / seconds,
    steadyCpuSeconds: consumer,
    startupSeconds: start / 1000,
    emulatorCpuSeconds: emulator,
    postgresCpuSeconds: postgres,
    otherCpuSeconds: Math.max(
      0,
      b.machine - a.machine - consumer - emulator - postgres - (b.bench - a.bench),
    ),
    timeline,
    child,
  };
}
