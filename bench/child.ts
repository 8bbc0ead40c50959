// Runs one Node process of the benchmark (a drain, a produce, a plain drain
// loop), collects its output, and calls `onTick` while it runs so the caller
// can sample it from outside.
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";

export interface ChildRun {
  readonly pid: number;
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  /** The last 4 KB of stderr. */
  readonly stderrTail: string;
  readonly wallSeconds: number;
}

export interface ChildOptions {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly tickMs?: number;
  onTick?(pid: number): void | Promise<void>;
  /** Also writes everything the process prints to this file. */
  readonly logFile?: string;
  /** Killed with SIGTERM after this long (a wedged run must not hang the benchmark). */
  readonly timeoutMs?: number;
}

export function runChild(command: string, args: string[], options: ChildOptions): Promise<ChildRun> {
  const started = performance.now();
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const pid = child.pid ?? -1;
  let stdout = "";
  let stderr = "";
  const log = options.logFile ? createWriteStream(options.logFile) : null;
  if (log) {
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
  }
  child.stdout.setEncoding("utf8").on("data", (s: string) => {
    stdout += s;
  });
  child.stderr.setEncoding("utf8").on("data", (s: string) => {
    stderr = (stderr + s).slice(-4096);
  });
  let ticking = false;
  const timer = options.onTick
    ? setInterval(async () => {
        if (ticking) return;
        ticking = true;
        try {
          await options.onTick?.(pid);
        } finally {
          ticking = false;
        }
      }, options.tickMs ?? 100)
    : undefined;
  const killer = options.timeoutMs ? setTimeout(() => child.kill("SIGTERM"), options.timeoutMs) : undefined;
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => {
      clearInterval(timer);
      clearTimeout(killer);
      log?.end();
      resolve({
        pid,
        code,
        signal,
        stdout,
        stderrTail: stderr,
        wallSeconds: (performance.now() - started) / 1000,
      });
    });
  });
}

export function expectSuccess(run: ChildRun, what: string): void {
  if (run.code !== 0) {
    throw new Error(`${what} failed (exit ${run.code ?? run.signal}):\n${run.stderrTail.trim()}`);
  }
}
