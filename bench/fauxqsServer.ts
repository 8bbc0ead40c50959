// The SQS emulator in a process of its own, so that its CPU is not counted as
// the benchmark's or login-etl's. Same emulator and options as
// src/local/embeddedSqs.ts (fauxqs, port 0, no logger); started through
// startFauxqs directly because the benchmark needs the server handle to look
// at queue depths and to feed the long drain. Driven over the IPC channel by
// bench/emulator.ts.
import { type FauxqsServer, startFauxqs } from "fauxqs";
import { sampleBodies } from "../src/local/sampleEvents.ts";

export type EmulatorRequest =
  | { id: number; cmd: "createQueues"; name: string }
  | { id: number; cmd: "deleteQueues"; name: string }
  | { id: number; cmd: "counts"; name: string }
  | {
      id: number;
      cmd: "feed";
      name: string;
      total: number;
      seed: number;
      malformedRatio: number;
      duplicateRatio: number;
      low: number;
      high: number;
    }
  | { id: number; cmd: "stop" };

export type EmulatorMessage =
  | { type: "ready"; port: number; pid: number }
  | { type: "reply"; id: number; ok: true; result: unknown }
  | { type: "reply"; id: number; ok: false; error: string };

export interface QueueCounts {
  readonly visible: number;
  readonly inFlight: number;
  /** Messages the feeder has put on the queue (0 when not feeding). */
  readonly fed: number;
  readonly feeding: boolean;
}

const server: FauxqsServer = await startFauxqs({ port: 0, logger: false });
const feeders = new Map<string, { fed: number; done: boolean; timer: NodeJS.Timeout | undefined }>();

function counts(name: string): QueueCounts {
  const attributes = server.inspectQueue(name)?.attributes;
  if (!attributes) throw new Error(`no queue ${name}`);
  const feeder = feeders.get(name);
  return {
    visible:
      Number(attributes.ApproximateNumberOfMessages ?? 0) +
      Number(attributes.ApproximateNumberOfMessagesDelayed ?? 0),
    inFlight: Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
    fed: feeder?.fed ?? 0,
    feeding: feeder ? !feeder.done : false,
  };
}

/**
 * Keeps between `low` and `high` messages visible until `total` were put on the
 * queue. fauxqs keeps a queue in one array and takes messages with
 * Array.prototype.shift, which costs O(length) once the array is large
 * (a 1 000 000-message backlog drains at a few hundred messages/s), so the long
 * drain is fed as it goes instead of filled up front.
 */
function feed(request: Extract<EmulatorRequest, { cmd: "feed" }>): void {
  const bodies = sampleBodies({
    count: request.total,
    seed: request.seed,
    malformedRatio: request.malformedRatio,
    duplicateRatio: request.duplicateRatio,
  });
  const state: { fed: number; done: boolean; timer: NodeJS.Timeout | undefined } = {
    fed: 0,
    done: false,
    timer: undefined,
  };
  const tick = () => {
    const visible = counts(request.name).visible;
    if (visible < request.low) {
      // At most 1 000 per tick, so that the event loop keeps serving requests.
      for (let n = Math.min(request.high - visible, 1_000); n > 0; n--) {
        const next = bodies.next();
        if (next.done) {
          state.done = true;
          clearInterval(state.timer);
          return;
        }
        server.sendMessage(request.name, next.value);
        state.fed++;
      }
    }
  };
  state.timer = setInterval(tick, 5);
  feeders.set(request.name, state);
  tick();
}

function handle(request: EmulatorRequest): unknown {
  switch (request.cmd) {
    case "createQueues": {
      const dlq = server.createQueue(`${request.name}-dlq`);
      const source = server.createQueue(request.name, {
        attributes: {
          VisibilityTimeout: "30",
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount: 5 }),
        },
      });
      return { queueUrl: source.queueUrl, dlqUrl: dlq.queueUrl };
    }
    case "deleteQueues": {
      const feeder = feeders.get(request.name);
      if (feeder) clearInterval(feeder.timer);
      feeders.delete(request.name);
      server.deleteQueue(request.name);
      server.deleteQueue(`${request.name}-dlq`);
      return null;
    }
    case "counts":
      return counts(request.name);
    case "feed":
      feed(request);
      return null;
    case "stop":
      setImmediate(() => process.disconnect?.());
      return null;
  }
}

process.on("message", (raw) => {
  const request = raw as EmulatorRequest;
  let reply: EmulatorMessage;
  try {
    reply = { type: "reply", id: request.id, ok: true, result: handle(request) };
  } catch (err) {
    reply = { type: "reply", id: request.id, ok: false, error: (err as Error).message };
  }
  process.send?.(reply);
});
// Asked to stop, or the parent is gone (crashed or killed): stop rather than linger on the port.
process.on("disconnect", () => {
  for (const f of feeders.values()) clearInterval(f.timer);
  void server.stop().finally(() => process.exit(0));
});
process.send?.({ type: "ready", port: server.port, pid: process.pid } satisfies EmulatorMessage);
