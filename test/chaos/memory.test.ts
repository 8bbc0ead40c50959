// Big input must never be the way the service runs out of memory: 2,000 bodies
// of 255 KB (each rejected as body_too_large) drain with a peak RSS under
// 300 MB, whether the dead-letter queue takes them or every connection to it
// is reset. Bug: with the DLQ unreachable, RSS reached 780 MB, then V8's heap
// limit killed the process (exit 134), again and again.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lastJsonLine, startCli } from "../helpers/cli.ts";
import { type FaultProxy, startFaultProxy } from "../helpers/faultProxy.ts";
import { sendBatch } from "../helpers/stack.ts";
import { type ChaosStack, report, startChaosStack } from "./harness.ts";

const COUNT = 2_000;
const BODY = JSON.stringify({ pad: "x".repeat(255_000) });
const RSS_LIMIT_MB = 300;

let stack: ChaosStack;
let proxy: FaultProxy;

beforeAll(async () => {
  stack = await startChaosStack({ visibilityTimeoutSeconds: 60, migrate: true });
  proxy = await startFaultProxy(stack.endpointUrl);
});
afterAll(async () => {
  await proxy?.close();
  await stack?.close();
});

async function sendBigBodies(): Promise<void> {
  // One per request: a SendMessageBatch carries at most 256 KiB in all.
  const queue = Array.from({ length: COUNT }, (_, i) => i);
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (queue.pop() !== undefined) await sendBatch(stack.sqs, stack.queueUrl, [BODY]);
    }),
  );
}

/** Runs drain through the proxy and samples the process's peak RSS (VmHWM) until it exits. */
async function drainMeasuringRss(): Promise<{
  code: number | null;
  summary: Record<string, number>;
  peakMb: number;
}> {
  const { child, done } = startCli(
    ["drain", "--json", "--no-progress"],
    stack.env({ SQS_ENDPOINT_URL: proxy.endpointUrl }),
  );
  stack.own(child);
  let peakKb = 0;
  const sample = setInterval(() => {
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
      peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
    } catch {
      // exited between two samples
    }
  }, 100);
  const res = await done.finally(() => clearInterval(sample));
  return { code: res.code, summary: lastJsonLine(res.stdout), peakMb: Math.round(peakKb / 1024) };
}

describe("2,000 bodies of 255 KB", () => {
  it("drain with the DLQ unreachable: every letter left on the source queue, peak RSS under 300 MB", async () => {
    await stack.freshQueues();
    await sendBigBodies();
    proxy.rules = [{ operation: "SendMessageBatch", queueUrl: stack.dlqUrl, fault: { kind: "reset" } }];
    const { code, summary, peakMb } = await drainMeasuringRss();
    report("memory, DLQ unreachable", { peakRssMb: peakMb, ...summary });
    expect(code).toBe(0);
    // A letter left on the queue may come back before the drain ends: it is met again and
    // settled as left on the queue at once (each delivery counts).
    expect(summary).toMatchObject({ inserted: 0, rejected: 0 });
    expect(summary.received).toBeGreaterThanOrEqual(COUNT);
    expect(summary.left_on_queue).toBe(summary.received);
    expect(peakMb).toBeLessThan(RSS_LIMIT_MB);
  });

  it("drain with the DLQ up: every letter dead-lettered, peak RSS under 300 MB", async () => {
    await stack.freshQueues();
    await sendBigBodies();
    proxy.rules = [];
    const { code, summary, peakMb } = await drainMeasuringRss();
    report("memory, DLQ up", { peakRssMb: peakMb, ...summary });
    expect(code).toBe(0);
    expect(summary).toMatchObject({ received: COUNT, rejected: COUNT });
    expect(peakMb).toBeLessThan(RSS_LIMIT_MB);
  });
});
