// The parent's side of bench/fauxqsServer.ts: starts the emulator process and
// talks to it over IPC.
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import type { EmulatorMessage, EmulatorRequest, QueueCounts } from "./fauxqsServer.ts";
import { processCpuSeconds } from "./proc.ts";
import { BENCH_DIR, nodeBinary } from "./settings.ts";

type Request = EmulatorRequest extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

export interface Emulator {
  readonly endpointUrl: string;
  readonly pid: number;
  createQueues(name: string): Promise<{ queueUrl: string; dlqUrl: string }>;
  deleteQueues(name: string): Promise<void>;
  counts(name: string): Promise<QueueCounts>;
  feed(options: Omit<Extract<EmulatorRequest, { cmd: "feed" }>, "id" | "cmd">): Promise<void>;
  /** The emulator process's CPU seconds so far. */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

export async function startEmulator(): Promise<Emulator> {
  const child: ChildProcess = spawn(nodeBinary(), [path.join(BENCH_DIR, "fauxqsServer.ts")], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const ready = new Promise<{ port: number; pid: number }>((resolve, reject) => {
    child.once("exit", (code) =>
      reject(new Error(`the emulator process exited (${code}) before it was ready`)),
    );
    child.on("message", (raw) => {
      const message = raw as EmulatorMessage;
      if (message.type === "ready") resolve(message);
      else {
        const waiter = pending.get(message.id);
        pending.delete(message.id);
        if (message.ok) waiter?.resolve(message.result);
        else waiter?.reject(new Error(`emulator: ${message.error}`));
      }
    });
  });
  const { port, pid } = await ready;
  const call = <T>(request: Request): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ ...request, id });
    });
  return {
    endpointUrl: `http://127.0.0.1:${port}`,
    pid,
    createQueues: (name) => call({ cmd: "createQueues", name }),
    deleteQueues: (name) => call({ cmd: "deleteQueues", name }),
    counts: (name) => call({ cmd: "counts", name }),
    feed: (options) => call({ cmd: "feed", ...options }),
    cpuSeconds: () => processCpuSeconds(pid) ?? Number.NaN,
    async stop() {
      if (child.exitCode !== null) return;
      const timer = setTimeout(() => child.kill("SIGTERM"), 5_000);
      await call({ cmd: "stop" }).catch(() => {});
      await exited;
      clearTimeout(timer);
    },
  };
}
