// One `login-etl drain --json --no-progress` process (the real binary) over a
// queue of this stack, measured from outside (bench/measureDrain.ts) and from
// inside (bench/childReport.ts: exact CPU time and peak RSS at exit).
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { expectSuccess } from "./child.ts";
import type { ChildReport } from "./childReport.ts";
import { type DrainMeasurement, measureDrain } from "./measureDrain.ts";
import { BENCH_DIR, nodeBinary, RESULTS_DIR } from "./settings.ts";
import { shippedBin } from "./shipped.ts";
import type { Stack } from "./stack.ts";

/** The fields of `login-etl drain --json` that the benchmark checks. */
export interface DrainSummary {
  readonly received: number;
  readonly inserted: number;
  readonly duplicates: number;
  /** Rejected and accepted by the dead-letter queue. */
  readonly rejected: number;
  readonly seconds: number;
}

export interface DrainRun {
  readonly measurement: DrainMeasurement;
  readonly summary: DrainSummary;
  readonly report: ChildReport;
  /** Whole process: user + system CPU seconds / messages, µs. */
  readonly cpuUsPerMessage: number;
  /** Only while messages flowed (first taken → queue empty), from /proc samples, µs. */
  readonly steadyCpuUsPerMessage: number;
  readonly profile: string | null;
}

export async function runDrain(
  stack: Stack,
  options: {
    queueName: string;
    queueUrl: string;
    dlqUrl: string;
    schema: string;
    keyring: string;
    total: number;
    fed: boolean;
    label: string;
  },
): Promise<DrainRun> {
  const { settings } = stack;
  const reportFile = path.join(os.tmpdir(), `login-etl-bench-${process.pid}-${options.label}.json`);
  const profileDir = path.join(RESULTS_DIR, "profiles", options.label);
  const nodeOptions = [`--import=${pathToFileURL(path.join(BENCH_DIR, "childReport.ts")).href}`];
  // Extra Node options for the drain only (experiments: heap limits, tracing).
  if (process.env.BENCH_NODE_OPTIONS) nodeOptions.push(process.env.BENCH_NODE_OPTIONS);
  if (settings.profile) {
    mkdirSync(profileDir, { recursive: true });
    nodeOptions.push("--cpu-prof", `--cpu-prof-dir=${profileDir}`);
  }
  let logFile: string | undefined;
  if (process.env.BENCH_LOGS === "1") {
    mkdirSync(path.join(RESULTS_DIR, "logs"), { recursive: true });
    logFile = path.join(RESULTS_DIR, "logs", `${options.label}.log`);
  }
  const m = await measureDrain(stack, {
    ...(logFile ? { logFile } : {}),
    queueName: options.queueName,
    total: options.total,
    fed: options.fed,
    command: nodeBinary(settings.etlRoot),
    args: [shippedBin(settings.etlRoot), "drain", "--json", "--no-progress"],
    cwd: settings.etlRoot,
    env: stack.etlEnv({
      SQS_QUEUE_URL: options.queueUrl,
      SQS_DLQ_URL: options.dlqUrl,
      LOGIN_ETL_DB_SCHEMA: options.schema,
      PII_KEYRING: options.keyring,
      BENCH_REPORT_FILE: reportFile,
      NODE_OPTIONS: nodeOptions.join(" "),
    }),
  });
  expectSuccess(m.child, "login-etl drain");
  const summary = JSON.parse(m.child.stdout.trim().split("\n").at(-1) ?? "{}") as DrainSummary;
  const report = JSON.parse(readFileSync(reportFile, "utf8")) as ChildReport;
  rmSync(reportFile, { force: true });
  return {
    measurement: m,
    summary,
    report,
    cpuUsPerMessage: ((report.userSeconds + report.systemSeconds) * 1e6) / options.total,
    steadyCpuUsPerMessage: (m.steadyCpuSeconds * 1e6) / options.total,
    profile: settings.profile ? profileDir : null,
  };
}
