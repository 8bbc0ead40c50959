// `login-etl run` as a real child process, seen from outside the way an
// operator sees it: /livez, /readyz, /metrics, its logs, its exit.
import type { ChildProcess } from "node:child_process";
import type { Env } from "../../src/config.ts";
import { freePort } from "../../src/local/embeddedPostgres.ts";
import { type CliResult, startCli } from "../helpers/cli.ts";
import { type ChaosStack, queueCounts, scrapeMetrics, waitFor, waitForRows } from "./harness.ts";

export interface Service {
  readonly child: ChildProcess;
  readonly port: number;
  readonly done: Promise<CliResult>;
  /** The exit, once it happened. */
  exited(): CliResult | null;
  metrics(): Promise<Record<string, number>>;
  status(path: "/livez" | "/readyz"): Promise<number>;
  /** SIGTERM, as an orchestrator stops it: the exit, and how long it took. */
  terminate(): Promise<{ exit: CliResult; shutdownMs: number }>;
  /** Log lines so far, parsed (JSON lines on stderr). */
  logs(): Array<Record<string, unknown>>;
}

/** `login-etl run` on the stack (`extra` on top of its environment), once /readyz answers 200. */
export async function startService(stack: ChaosStack, extra: Env = {}): Promise<Service> {
  const port = await freePort();
  const { child, done } = startCli(["run"], { ...stack.env(extra), LOGIN_ETL_HTTP_PORT: String(port) });
  stack.own(child);
  let result: CliResult | null = null;
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  void done.then((r) => {
    result = r;
  });
  const service: Service = {
    child,
    port,
    done,
    exited: () => result,
    async metrics() {
      const r = result as CliResult | null;
      if (r) throw new Error(`login-etl run exited (${r.code ?? r.signal}): ${r.stderr.slice(-3000)}`);
      return scrapeMetrics(port);
    },
    async status(path) {
      return (await fetch(`http://127.0.0.1:${port}${path}`)).status;
    },
    async terminate() {
      const stopAt = performance.now();
      child.kill("SIGTERM");
      const exit = await done;
      return { exit, shutdownMs: performance.now() - stopAt };
    },
    logs: () =>
      stderr
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
  await waitFor(
    "login-etl run ready",
    async () => (result ? -1 : await service.status("/readyz")),
    (s) => s === 200 || s === -1,
    60_000,
  );
  if (result) throw new Error(`login-etl run exited at start: ${(result as CliResult).stderr}`);
  return service;
}

/**
 * Waits until `validSent` rows are written, then until the source queue is
 * empty and the service holds nothing in flight; the service's metrics then.
 */
export async function waitUntilSettled(
  stack: ChaosStack,
  svc: Service,
  validSent: number,
  queueTimeoutMs: number,
): Promise<Record<string, number>> {
  await waitForRows(stack, "every row written", validSent, 120_000, 250);
  await waitFor(
    "queue empty and nothing in flight",
    async () => ({ q: await queueCounts(stack), m: await svc.metrics() }),
    ({ q, m }) => q.visible === 0 && q.inFlight === 0 && m.login_etl_messages_in_flight === 0,
    queueTimeoutMs,
    250,
  );
  return svc.metrics();
}

/** Counts of logged problems by code, for the report. */
export function problemCodes(logs: Array<Record<string, unknown>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of logs) {
    if (line.level !== "warn" && line.level !== "error") continue;
    // Rejections are bad input, not errors: they carry their outcome instead of a code.
    const code =
      typeof line.code === "string"
        ? line.code
        : typeof line.outcome === "string"
          ? `rejected (${line.outcome})`
          : "(none)";
    out[code] = (out[code] ?? 0) + 1;
  }
  return out;
}
