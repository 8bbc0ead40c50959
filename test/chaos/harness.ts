// The fault campaigns' own stack: an embedded PostgreSQL and an SQS emulator
// that the campaign may stop and start again (same port, same data), the
// messages it sent (MessageId → body, as SQS acknowledged them), and the
// exactly-once audit every campaign ends with. The SQS plumbing is the one of
// the integration tests (test/helpers/stack.ts).
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { SQSClient } from "@aws-sdk/client-sqs";
import pg from "pg";
import type { Env } from "../../src/config.ts";
import { type EmbeddedPostgres, freePort, startEmbeddedPostgres } from "../../src/local/embeddedPostgres.ts";
import { type EmbeddedSqs, startEmbeddedSqs } from "../../src/local/embeddedSqs.ts";
import { MALFORMED_BODIES, sampleBodies } from "../../src/local/sampleEvents.ts";
import { type CliResult, runCli } from "../helpers/cli.ts";
import {
  createQueue,
  localSqsClient,
  messageCounts,
  receiveAll,
  sendBatch,
  serviceEnv,
} from "../helpers/stack.ts";

export interface ChaosStack {
  readonly postgres: EmbeddedPostgres;
  readonly endpointUrl: string;
  queueUrl: string;
  dlqUrl: string;
  /** The test's own view of the database; survives a PostgreSQL restart (it reconnects). */
  readonly db: pg.Pool;
  /** The test's own SQS client; the emulator comes back on the same port after a restart. */
  readonly sqs: SQSClient;
  /** The environment a login-etl process needs to use this stack. */
  env(extra?: Env): Env;
  /** A new source queue and DLQ for the next test (queueUrl, dlqUrl and env() follow). */
  freshQueues(): Promise<void>;
  stopSqs(): Promise<void>;
  /** Starts the emulator again on the same port and, with persistence, with its messages. */
  startSqs(): Promise<void>;
  /** A login-etl process of the campaign's: close() kills it (SIGKILL) if it still runs. */
  own(child: ChildProcess): void;
  close(): Promise<void>;
}

export interface ChaosStackOptions {
  /** The source queue's visibility timeout: short, so that a killed consumer's messages return soon. */
  readonly visibilityTimeoutSeconds: number;
  /** Keep the emulator's state on disk so that a restart keeps the messages. */
  readonly sqsPersistence?: boolean;
  /** Run `login-etl migrate` before handing the stack over. */
  readonly migrate?: boolean;
}

export async function startChaosStack(options: ChaosStackOptions): Promise<ChaosStack> {
  const postgres = await startEmbeddedPostgres();
  const sqsPort = await freePort();
  const sqsDataDir = options.sqsPersistence ? mkdtempSync(path.join(os.tmpdir(), "login-etl-sqs-")) : null;
  const startServer = () =>
    startEmbeddedSqs({ port: sqsPort, ...(sqsDataDir ? { dataDir: sqsDataDir } : {}) });
  let emulator: EmbeddedSqs | null = await startServer().catch(async (err) => {
    await postgres.stop();
    throw err;
  });
  const endpointUrl = emulator.endpointUrl;
  const sqs = localSqsClient(endpointUrl);
  const children = new Set<ChildProcess>();
  const db = new pg.Pool({ connectionString: postgres.databaseUrl, max: 2 });
  // While PostgreSQL is stopped on purpose, idle clients error out; the pool replaces them.
  db.on("error", () => {});
  const stack: ChaosStack = {
    postgres,
    endpointUrl,
    queueUrl: "",
    dlqUrl: "",
    db,
    sqs,
    env(extra = {}) {
      const { queueUrl, dlqUrl } = stack;
      return serviceEnv(
        { queueUrl, dlqUrl, endpointUrl, databaseUrl: postgres.databaseUrl },
        { LOGIN_ETL_LOG_LEVEL: "warn", ...extra },
      );
    },
    async freshQueues() {
      stack.dlqUrl = await createQueue(sqs, "chaos-dlq");
      // No redrive policy: after many kills a message's receive count is high, and
      // the emulator must not move valid messages to the DLQ on its own.
      stack.queueUrl = await createQueue(sqs, "chaos-src", {
        VisibilityTimeout: String(options.visibilityTimeoutSeconds),
      });
    },
    async stopSqs() {
      const running = emulator;
      emulator = null;
      await running?.stop();
    },
    async startSqs() {
      if (!emulator) emulator = await startServer();
    },
    own(child) {
      children.add(child);
      child.once("exit", () => children.delete(child));
    },
    async close() {
      for (const child of children) child.kill("SIGKILL");
      sqs.destroy();
      await db.end().catch(() => {});
      await emulator?.stop().catch(() => {});
      emulator = null;
      await postgres.stop();
      if (sqsDataDir) rmSync(sqsDataDir, { recursive: true, force: true });
    },
  };
  try {
    await stack.freshQueues();
    if (options.migrate) {
      const migrate = await runCli(["migrate"], stack.env());
      if (migrate.code !== 0) throw new Error(`login-etl migrate exited ${migrate.code}: ${migrate.stderr}`);
    }
  } catch (err) {
    await stack.close();
    throw err;
  }
  return stack;
}

/** What was sent, as SQS acknowledged it. */
export interface Sent {
  readonly valid: Map<string, string>;
  readonly malformed: Map<string, string>;
}

export const emptySent = (): Sent => ({ valid: new Map(), malformed: new Map() });

/**
 * Produce-like synthetic bodies (real-traffic shapes, ~`malformedRatio` of the
 * known malformed ones), sent with SendMessageBatch, `concurrency` calls at once.
 * Never called while the emulator is down: a batch whose answer was lost could
 * have been stored, and a retry would add messages the audit does not know.
 */
export async function sendSynthetic(
  stack: ChaosStack,
  sent: Sent,
  options: { count: number; malformedRatio: number; seed: number; concurrency?: number },
): Promise<void> {
  const bodies = sampleBodies({
    count: options.count,
    duplicateRatio: 0.1,
    malformedRatio: options.malformedRatio,
    seed: options.seed,
  });
  const next = (): string[] => {
    const batch: string[] = [];
    for (let n = bodies.next(); !n.done; n = bodies.next()) {
      batch.push(n.value);
      if (batch.length === 10) break;
    }
    return batch;
  };
  const malformed = new Set(MALFORMED_BODIES);
  const worker = async () => {
    for (let batch = next(); batch.length; batch = next()) {
      const ids = await sendBatch(stack.sqs, stack.queueUrl, batch);
      batch.forEach((body, i) => {
        (malformed.has(body) ? sent.malformed : sent.valid).set(ids[i] as string, body);
      });
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));
}

export function queueCounts(
  stack: ChaosStack,
  queueUrl = stack.queueUrl,
): Promise<{ visible: number; inFlight: number }> {
  return messageCounts(stack.sqs, queueUrl);
}

export async function rowCount(stack: ChaosStack): Promise<number> {
  const { rows } = await stack.db.query<{ n: number }>("SELECT count(*)::int AS n FROM user_logins");
  return rows[0]?.n ?? 0;
}

/** Waits until user_logins holds at least `atLeast` rows; the count then. */
export function waitForRows(
  stack: ChaosStack,
  what: string,
  atLeast: number,
  timeoutMs = 60_000,
  everyMs = 100,
): Promise<number> {
  return waitFor(
    what,
    () => rowCount(stack),
    (n) => n >= atLeast,
    timeoutMs,
    everyMs,
  );
}

/** `login-etl drain --json --no-progress`, the way the campaigns finish a backlog. */
export const DRAIN_ARGS = ["drain", "--json", "--no-progress"];

export function drain(env: Env): Promise<CliResult> {
  return runCli(DRAIN_ARGS, env, 120_000);
}

export interface Audit {
  validSent: number;
  malformedSent: number;
  rowsChecked: number;
  /** Valid messages without a row. */
  lost: string[];
  /** message_ids with more than one row. */
  doubled: string[];
  /** Rows whose message_id was never sent as a valid message (a rejected one included). */
  strangerRows: string[];
  /** Rows whose user_id is not the one in the body sent under that MessageId. */
  mismatchedRows: string[];
  dlqMessages: number;
  /** Malformed messages with no dead letter. */
  dlqMissing: string[];
  /** Dead letters that are not a malformed message byte for byte, or carry no source_message_id/error_code. */
  dlqStrangers: number;
  /** Dead letters beyond the first per source message (a kill between DLQ send and delete). */
  dlqRepeats: number;
  queue: { visible: number; inFlight: number };
}

/** The exactly-once audit: table against valid sends, DLQ against malformed sends, source queue empty. */
export async function audit(stack: ChaosStack, sent: Sent): Promise<Audit> {
  const { rows } = await stack.db.query<{ message_id: string | null; user_id: string; n: number }>(
    "SELECT message_id, min(user_id) AS user_id, count(*)::int AS n FROM user_logins GROUP BY message_id",
  );
  const stored = new Map(rows.map((r) => [r.message_id ?? "(null)", r]));
  const lost = [...sent.valid.keys()].filter((id) => !stored.has(id));
  const doubled = rows.filter((r) => r.n > 1).map((r) => r.message_id ?? "(null)");
  const strangerRows = [...stored.keys()].filter((id) => !sent.valid.has(id));
  const mismatchedRows = rows
    .filter((r) => {
      const body = r.message_id ? sent.valid.get(r.message_id) : undefined;
      return body !== undefined && (JSON.parse(body) as { user_id: string }).user_id !== r.user_id;
    })
    .map((r) => r.message_id as string);

  // Held invisible for the rest of the test.
  const dead = await receiveAll(stack.sqs, stack.dlqUrl, 600);
  const letters = new Map<string, number>();
  let dlqStrangers = 0;
  for (const m of dead) {
    const source = m.MessageAttributes?.source_message_id?.StringValue;
    const code = m.MessageAttributes?.error_code?.StringValue;
    if (!source || !code || sent.malformed.get(source) !== m.Body) {
      dlqStrangers++;
      continue;
    }
    letters.set(source, (letters.get(source) ?? 0) + 1);
  }
  const dlqMissing = [...sent.malformed.keys()].filter((id) => !letters.has(id));
  const dlqRepeats = [...letters.values()].reduce((n, k) => n + k - 1, 0);
  return {
    validSent: sent.valid.size,
    malformedSent: sent.malformed.size,
    rowsChecked: rows.reduce((n, r) => n + r.n, 0),
    lost,
    doubled,
    strangerRows,
    mismatchedRows,
    dlqMessages: dead.length,
    dlqMissing,
    dlqStrangers,
    dlqRepeats,
    queue: await queueCounts(stack),
  };
}

/** The figures of an audit, with id lists cut short so a failure stays readable. */
export function figures(a: Audit) {
  const few = (ids: string[]) => (ids.length > 5 ? [...ids.slice(0, 5), `… ${ids.length - 5} more`] : ids);
  return {
    ...a,
    lost: few(a.lost),
    doubled: few(a.doubled),
    strangerRows: few(a.strangerRows),
    mismatchedRows: few(a.mismatchedRows),
    dlqMissing: few(a.dlqMissing),
  };
}

/** Asserts what every campaign must end with; DLQ repeats are allowed (standard SQS DLQ) and reported. */
export function expectExactlyOnce(a: Audit, expect: (v: unknown) => { toEqual(x: unknown): void }): void {
  expect({
    rowsChecked: a.rowsChecked,
    lost: a.lost.length,
    doubled: a.doubled.length,
    strangerRows: a.strangerRows.length,
    mismatchedRows: a.mismatchedRows.length,
    dlqMissing: a.dlqMissing.length,
    dlqStrangers: a.dlqStrangers,
    queue: a.queue,
  }).toEqual({
    rowsChecked: a.validSent,
    lost: 0,
    doubled: 0,
    strangerRows: 0,
    mismatchedRows: 0,
    dlqMissing: 0,
    dlqStrangers: 0,
    queue: { visible: 0, inFlight: 0 },
  });
}

/** Prometheus text → the sum of each sample name (labels summed over). */
export function parseMetrics(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const match = /^([a-z_:][a-z0-9_:]*)(\{[^}]*\})?\s+(\S+)/i.exec(line);
    if (!match) continue;
    const name = match[1] as string;
    out[name] = (out[name] ?? 0) + Number(match[3]);
    // Also by each label alone: `name|outcome=dead_lettered` sums every series with that label.
    for (const [, label, value] of (match[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)) {
      const key = `${name}|${label}=${value}`;
      out[key] = (out[key] ?? 0) + Number(match[3]);
    }
  }
  return out;
}

/** A campaign's figures on the console, one per line (`indent` 0: all on one line). */
export function report(title: string, values: object, indent = 1): void {
  console.log(title, JSON.stringify(values, null, indent));
}

/** The metrics identity of DESIGN.md §7, as the two sides of an equation. */
export function reconcile(m: Record<string, number>) {
  const v = (name: string) => m[`login_etl_${name}`] ?? 0;
  return {
    received: v("messages_received_total"),
    accounted:
      v("rows_inserted_total") +
      v("messages_duplicate_total") +
      v("messages_rejected_total") +
      v("messages_released_total") +
      v("messages_in_flight"),
  };
}

/** The reconciliation and the counters behind it, for a report. */
export function counterFigures(m: Record<string, number>) {
  return {
    ...reconcile(m),
    inserted: m.login_etl_rows_inserted_total,
    duplicates: m.login_etl_messages_duplicate_total,
    rejected: m.login_etl_messages_rejected_total,
    released: m.login_etl_messages_released_total,
    inFlight: m.login_etl_messages_in_flight,
  };
}

export async function scrapeMetrics(port: number): Promise<Record<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
  return parseMetrics(await res.text());
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for `accept(probe())`, polling every `everyMs`; throws with the last value past the deadline. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs: number,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let value: T | undefined;
    try {
      value = await probe();
      if (accept(value)) return value;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline)
      throw new Error(`${what}: not within ${timeoutMs} ms; last value ${JSON.stringify(value)}`);
    await sleep(everyMs);
  }
}

/** The campaigns' random seed: CHAOS_SEED to replay a run (each report prints the seed it used). */
export const CHAOS_SEED = Number(process.env.CHAOS_SEED ?? Date.now() % 2 ** 31);
