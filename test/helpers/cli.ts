// Runs the real `login-etl` binary as a user would, capturing its output.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Env } from "../../src/config.ts";
import { freePort } from "../../src/local/embeddedPostgres.ts";

export const BIN = fileURLToPath(new URL("../../bin/login-etl.js", import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** How to start login-etl: by default this Node running bin/login-etl.js; else a launcher (npx, another Node). */
export interface Launcher {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd?: string;
}

/** What a child process printed and how it ended; rejects only when it could not be started. */
export function captured(child: ChildProcess): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => {
    stdout += d;
  });
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  return new Promise<CliResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export function startCli(
  args: string[],
  env: Env,
  launcher: Launcher = { command: process.execPath, args: [BIN] },
  input?: string,
): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(launcher.command, [...launcher.args, ...args], {
    env: env as NodeJS.ProcessEnv,
    stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    ...(launcher.cwd ? { cwd: launcher.cwd } : {}),
  });
  if (input !== undefined) child.stdin?.end(input);
  return { child, done: captured(child) };
}

export function runCli(args: string[], env: Env, timeoutMs = 60_000): Promise<CliResult> {
  const { child, done } = startCli(args, env);
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  return done.finally(() => clearTimeout(timer));
}

export const lastJsonLine = (stdout: string) => JSON.parse(stdout.trimEnd().split("\n").pop() ?? "null");
export const STACK_TRACE = /^ {4}at /m;

/** Starts `login-etl run` on a free port and resolves once /readyz answers 200. */
export async function startRun(
  env: Env,
  launcher?: Launcher,
): Promise<{ child: ChildProcess; done: Promise<CliResult>; base: string }> {
  const port = await freePort();
  const { child, done } = startCli(
    ["run"],
    { ...env, LOGIN_ETL_HTTP_PORT: String(port), LOGIN_ETL_HTTP_HOST: "127.0.0.1" },
    launcher,
  );
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = await fetch(`${base}/readyz`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return { child, done, base };
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      const res = await done;
      throw new Error(`login-etl run did not become ready (exit ${res.code}): ${res.stderr.slice(-500)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
