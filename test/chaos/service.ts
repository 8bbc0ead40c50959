// `login-etl run` as a real child process, seen from outside the way an
// operator sees it: /livez, /readyz, /metrics, its logs, its exit.
import type { ChildProcess } from "node:child_process";
import type { Env } from "../../src/config.ts";
import { freePort } from "../../src/local/embeddedPostgres.ts";
import { type CliResult, startCli } from "../helpers/cli.ts";
import { parseMetrics, waitFor } from "./harness.ts";

export interface Service {
  readonly child: ChildProcess;
  readonly port: number;
  readonly done: Promise<CliResult>;
  /** The exit, once it happened. */
  exited(): CliResult | null;
  metrics(): Promise<Record<string, number>>;
  status(path: "/livez" | "/readyz"): Promise<number>;
  /** Log lines so far, parsed (JSON lines on stderr). */
  logs(): Array<Record<string, unknown>>;
}

export async function startService(env: Env): Promise<Service> {
  const port = await freePort();
  const { child, done } = startCli(["run"], { ...env, LOGIN_ETL_HTTP_PORT: String(port) });
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
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
      return parseMetrics(await res.text());
    },
    async status(path) {
      return (await fetch(`http://127.0.0.1:${port}${path}`)).status;
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

/** Counts of logged problems by code, for the report. */
export function problemCodes(logs: Array<Record<string, unknown>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of logs) {
    if (line.level !== "warn" && line.level !== "error") continue;
    const code = typeof line.code === "string" ? line.code : "(none)";
    out[code] = (out[code] ?? 0) + 1;
  }
  return out;
}
