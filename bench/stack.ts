// The local stack every measurement shares: one emulator process and one
// embedded PostgreSQL, plus the things measurements do with them (produce
// messages with `login-etl produce`, read the database server's CPU time).
import { readFileSync } from "node:fs";
import path from "node:path";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "../src/local/embeddedPostgres.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../src/local/embeddedSqs.ts";
import { expectSuccess, runChild } from "./child.ts";
import { type Emulator, startEmulator } from "./emulator.ts";
import { treeCpuSeconds } from "./proc.ts";
import { type BenchSettings, nodeBinary } from "./settings.ts";

export interface Stack {
  readonly settings: BenchSettings;
  readonly emulator: Emulator;
  readonly postgres: EmbeddedPostgres;
  /** CPU seconds of the PostgreSQL server so far (postmaster and every backend). */
  postgresCpuSeconds(): number;
  /** The environment a login-etl command needs for `queueUrl` on this stack (LOGIN_ETL_* knobs pass through). */
  etlEnv(extra: Record<string, string>): NodeJS.ProcessEnv;
  /** Puts `count` messages on the queue with `login-etl produce`; resolves to its messages/s. */
  produce(queueUrl: string, count: number): Promise<number>;
  stop(): Promise<void>;
}

export async function startStack(settings: BenchSettings): Promise<Stack> {
  const postgres = await startEmbeddedPostgres({ database: "login_etl_bench" });
  let emulator: Emulator;
  try {
    emulator = await startEmulator();
  } catch (err) {
    await postgres.stop();
    throw err;
  }
  const postmasterPid = Number(
    readFileSync(path.join(postgres.dataDir, "postmaster.pid"), "utf8").split("\n")[0],
  );
  const etlEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.PII_KEYRING_FILE;
    delete env.NODE_OPTIONS;
    return {
      ...env,
      SQS_ENDPOINT_URL: emulator.endpointUrl,
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      DATABASE_URL: postgres.databaseUrl,
      ...extra,
    };
  };
  return {
    settings,
    emulator,
    postgres,
    postgresCpuSeconds: () => treeCpuSeconds(postmasterPid) ?? Number.NaN,
    etlEnv,
    async produce(queueUrl, count) {
      const run = await runChild(
        nodeBinary(settings.etlRoot),
        [
          "bin/login-etl.js",
          "produce",
          "--count",
          String(count),
          "--malformed-ratio",
          String(settings.malformedRatio),
          "--duplicate-ratio",
          String(settings.duplicateRatio),
          "--seed",
          String(settings.seed),
          "--concurrency",
          "8",
        ],
        { cwd: settings.etlRoot, env: etlEnv({ SQS_QUEUE_URL: queueUrl }), timeoutMs: 30 * 60_000 },
      );
      expectSuccess(run, "login-etl produce");
      const rate = /\((\d+)\/s\)/.exec(run.stdout)?.[1];
      return Number(rate ?? Number.NaN);
    },
    async stop() {
      await emulator.stop().catch(() => {});
      await postgres.stop();
    },
  };
}
