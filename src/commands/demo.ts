// `login-etl demo` (= `npm start`): the whole pipeline on an embedded stack.
// A real PostgreSQL and an in-process SQS endpoint, seeded with sample events
// (repeated addresses, null locales, an identical body twice, malformed
// bodies), drained through the same code as `run`, then the results shown.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { type Flags, loadConfig } from "../config.ts";
import { loadDemoStack } from "../local/demoStack.ts";
import { MALFORMED_BODIES, sampleBodies } from "../local/sampleEvents.ts";
import { sqsClientFor } from "../sqs/jsonClient.ts";
import { sendBodies } from "../sqs/sqsProducer.ts";
import type { SqsJsonClient } from "../sqs/types.ts";
import { type CommandContext, print } from "./context.ts";
import { drainQueue, formatSummary } from "./drain.ts";

const SAMPLE_COUNT = 100;

function table(rows: Array<Record<string, unknown>>): string {
  const first = rows[0];
  if (!first) return "(no rows)";
  const cols = Object.keys(first);
  const text = (v: unknown) =>
    v === null ? "NULL" : v instanceof Date ? v.toISOString().slice(0, 10) : String(v);
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => text(r[c]).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join("  ");
  return [
    line(cols),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map((r) => line(cols.map((c) => text(r[c])))),
  ].join("\n");
}

export async function demoCommand(ctx: CommandContext, flags: Flags & { keep?: boolean }): Promise<number> {
  const out = (text = "") => print(ctx.stdout, text);
  const { startEmbeddedPostgres, startEmbeddedSqs, LOCAL_CREDENTIALS, LOCAL_REGION } = await loadDemoStack();
  out("login-etl demo: starting an embedded PostgreSQL and an embedded SQS endpoint (nothing to install)…");
  const db = await startEmbeddedPostgres();
  const sqs = await startEmbeddedSqs().catch(async (err) => {
    await db.stop();
    throw err;
  });
  let sqsClient: SqsJsonClient | undefined;
  try {
    const { queueUrl, dlqUrl } = await sqs.createQueueWithDlq("login-queue", {
      visibilityTimeoutSeconds: 30,
      maxReceiveCount: 5,
    });
    // A key made for this run only: the demo's pseudonyms mean nothing after it ends.
    const keyring = JSON.stringify({
      primary: "demo",
      keys: [{ kid: "demo", key: randomBytes(32).toString("base64") }],
    });
    const bodies = [
      ...sampleBodies({ count: SAMPLE_COUNT, duplicateRatio: 0.25, malformedRatio: 0, seed: 42 }),
    ];
    // One body sent twice (two events, two rows) and the malformed ones real traffic carries.
    bodies.push(
      bodies[0] as string,
      MALFORMED_BODIES[0] as string,
      MALFORMED_BODIES[1] as string,
      MALFORMED_BODIES[3] as string,
    );
    const config = loadConfig(
      {
        SQS_QUEUE_URL: queueUrl,
        SQS_ENDPOINT_URL: sqs.endpointUrl,
        SQS_DLQ_URL: dlqUrl,
        AWS_REGION: LOCAL_REGION,
        DATABASE_URL: db.databaseUrl,
        PII_KEYRING: keyring,
        // The vault is on in the demo when the user gives a recovery public key.
        PII_VAULT_PUBLIC_KEY_FILE: ctx.env.PII_VAULT_PUBLIC_KEY_FILE,
        PII_VAULT_PUBLIC_KEY: ctx.env.PII_VAULT_PUBLIC_KEY,
        LOGIN_ETL_LOG_LEVEL: "error",
      },
      {},
      new Set(["queue", "database", "keyring", "vault"]),
    );
    // Seeded and inspected through the lean client, built as every command builds it.
    sqsClient = sqsClientFor(config, { credentials: LOCAL_CREDENTIALS, maxSockets: 10 });
    await sendBodies(sqsClient, queueUrl, bodies);
    out(
      `seeded ${bodies.length} messages on ${queueUrl} (${SAMPLE_COUNT} events, 1 body sent twice, 3 malformed)`,
    );

    const summary = await drainQueue(ctx, config, { progress: false, sqsCredentials: LOCAL_CREDENTIALS });
    out();
    out("drain summary (the same pipeline as `login-etl run`):");
    out(formatSummary(summary));

    const client = new pg.Client({ connectionString: db.databaseUrl });
    await client.connect();
    try {
      const sample = await client.query(
        "SELECT user_id, device_type, masked_ip, masked_device_id, locale, app_version, app_version_text, create_date FROM user_logins ORDER BY message_id LIMIT 5",
      );
      out();
      out("five rows of user_logins (ip and device_id are keyed pseudonyms, scheme h1):");
      out(table(sample.rows));
      const shared = await client.query(
        `SELECT masked_ip, count(*) AS logins, count(DISTINCT user_id) AS users
           FROM user_logins GROUP BY masked_ip HAVING count(DISTINCT user_id) > 1
          ORDER BY users DESC, masked_ip LIMIT 5`,
      );
      out();
      out(
        "the point of deterministic masking: one address seen for several users, found without ever storing it:",
      );
      out(
        "  SELECT masked_ip, count(*), count(DISTINCT user_id) FROM user_logins GROUP BY masked_ip HAVING count(DISTINCT user_id) > 1;",
      );
      out(table(shared.rows));
      const dlq = await sqsClient.getQueueAttributes({
        QueueUrl: dlqUrl,
        AttributeNames: ["ApproximateNumberOfMessages"],
      });
      out();
      out(
        `dead-letter queue: ${dlq.Attributes?.ApproximateNumberOfMessages ?? "?"} messages, each with error_code and error_detail attributes`,
      );
    } finally {
      await client.end();
    }

    if (flags.keep) {
      const psqlUrl = db.databaseUrl;
      out();
      out("keeping the stack running (Ctrl-C stops it and deletes its data). Connect with:");
      out(`  psql '${psqlUrl}'`);
      out(`  SQS endpoint ${sqs.endpointUrl}, queue ${queueUrl}`);
      await new Promise<void>((resolve) => {
        if (ctx.stop.aborted) resolve();
        ctx.stop.addEventListener("abort", () => resolve(), { once: true });
      });
    } else {
      out();
      out("done; the embedded stack is stopped and its data deleted.");
      out("`npm start -- --keep` keeps it running and prints how to connect with psql.");
    }
    return 0;
  } finally {
    sqsClient?.destroy();
    await sqs.stop();
    await db.stop();
  }
}
