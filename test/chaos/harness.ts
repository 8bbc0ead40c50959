// The fault campaigns' own stack: an embedded PostgreSQL and an SQS emulator
// that the campaign may stop and start again (same port, same data), the
// messages it sent (MessageId → body, as SQS acknowledged them), and the
// exactly-once audit every campaign ends with.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import pg from "pg";
import type { Env } from "../../src/config.ts";
import { type EmbeddedPostgres, freePort, startEmbeddedPostgres } from "../../src/local/embeddedPostgres.ts";
import {
  type EmbeddedSqs,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  startEmbeddedSqs,
} from "../../src/local/embeddedSqs.ts";
import { MALFORMED_BODIES, sampleBodies } from "../../src/local/sampleEvents.ts";
import { TEST_KEYRING } from "../helpers/stack.ts";

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
  close(): Promise<void>;
}

export interface ChaosStackOptions {
  /** The source queue's visibility timeout: short, so that a killed consumer's messages return soon. */
  readonly visibilityTimeoutSeconds: number;
  /** Keep the emulator's state on disk so that a restart keeps the messages. */
  readonly sqsPersistence?: boolean;
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
  const sqs = new SQSClient({ region: LOCAL_REGION, endpoint: endpointUrl, credentials: LOCAL_CREDENTIALS });
  const createQueue = async (name: string, attributes?: Record<string, string>) =>
    (
      await sqs.send(
        new CreateQueueCommand({
          QueueName: `${name}-${randomBytes(3).toString("hex")}`,
          Attributes: attributes,
        }),
      )
    ).QueueUrl as string;
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
      return {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        SQS_QUEUE_URL: stack.queueUrl,
        SQS_ENDPOINT_URL: endpointUrl,
        SQS_DLQ_URL: stack.dlqUrl,
        AWS_REGION: LOCAL_REGION,
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        DATABASE_URL: postgres.databaseUrl,
        PII_KEYRING: TEST_KEYRING,
        LOGIN_ETL_LOG_LEVEL: "warn",
        ...extra,
      };
    },
    async freshQueues() {
      stack.dlqUrl = await createQueue("chaos-dlq");
      // No redrive policy: after many kills a message's receive count is high, and
      // the emulator must not move valid messages to the DLQ on its own.
      stack.queueUrl = await createQueue("chaos-src", {
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
    async close() {
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
      const res = await stack.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: stack.queueUrl,
          Entries: batch.map((body, i) => ({ Id: String(i), MessageBody: body })),
        }),
      );
      if (res.Failed?.length || res.Successful?.length !== batch.length)
        throw new Error(`SendMessageBatch refused ${res.Failed?.length ?? "some"} entries`);
      for (const ok of res.Successful) {
        const body = batch[Number(ok.Id)] as string;
        (malformed.has(body) ? sent.malformed : sent.valid).set(ok.MessageId as string, body);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));
}

export async function queueCounts(
  stack: ChaosStack,
  queueUrl = stack.queueUrl,
): Promise<{ visible: number; inFlight: number }> {
  const { Attributes: a = {} } = await stack.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return {
    visible: Number(a.ApproximateNumberOfMessages),
    inFlight: Number(a.ApproximateNumberOfMessagesNotVisible),
  };
}

export async function rowCount(stack: ChaosStack): Promise<number> {
  const { rows } = await stack.db.query<{ n: number }>("SELECT count(*)::int AS n FROM user_logins");
  return rows[0]?.n ?? 0;
}

/** Every message on the DLQ, held invisible for the rest of the test. */
async function readDlq(stack: ChaosStack): Promise<Message[]> {
  const out: Message[] = [];
  for (let empty = 0; empty < 2; ) {
    const res = await stack.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: stack.dlqUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        VisibilityTimeout: 600,
        MessageAttributeNames: ["All"],
      }),
    );
    const got = res.Messages ?? [];
    out.push(...got);
    empty = got.length ? 0 : empty + 1;
  }
  return out;
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

  const dead = await readDlq(stack);
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
  }
  return out;
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
