// `login-etl check`: everything that would stop `run`, found before it runs,
// all reported at once. Exit 0 when all is well, 1 when anything is wrong, 2
// for bad configuration.
import { createSecretKey, randomBytes } from "node:crypto";
import { COMMAND_SETTINGS, type Flags, loadConfig, redactUrl } from "../config.ts";
import { EtlError, isEtlError } from "../errors.ts";
import { createLogger } from "../ops/logger.ts";
import { hasIdempotencyIndex, IDEMPOTENCY_INDEX_PROBLEM, loadMigrations } from "../postgres/migrations.ts";
import { createPool, pgError } from "../postgres/postgresPool.ts";
import { sqsClientFor } from "../sqs/jsonClient.ts";
import { describeQueue, pingQueue } from "../sqs/sqsQueueInfo.ts";
import { createGcmSealer } from "../vault/gcm.ts";
import { PER_VALUE_SEALING } from "../vault/sealer.ts";
import { type CommandContext, print } from "./context.ts";

type Line = { ok: boolean; text: string; warn?: boolean };

/** The sealing self-check that every data key gets (gcm.ts), run on a throwaway key. */
function sealingLine(): Line {
  return createGcmSealer(createSecretKey(randomBytes(32))).implementation === "batched"
    ? { ok: true, text: "vault sealing: AES-256-GCM batched, self-check against node:crypto passed" }
    : {
        ok: true,
        warn: true,
        text: `vault sealing: the batched AES-256-GCM failed its self-check against node:crypto here, so values are sealed ${PER_VALUE_SEALING} [VAULT_SEALER_FALLBACK]`,
      };
}

const describe = (err: unknown) => (isEtlError(err) ? `${err.message} [${err.code}]` : "unexpected error");

export async function checkCommand(ctx: CommandContext, flags: Flags): Promise<number> {
  const config = loadConfig(
    ctx.env,
    flags,
    new Set(["queue", "database", "keyring", "vault"]),
    COMMAND_SETTINGS.check,
  );
  const lines: Line[] = [
    {
      ok: true,
      text: `configuration valid; keyring primary ${config.keyring?.primary} (${config.keyring?.keys.size} key(s))`,
    },
    {
      ok: true,
      text: config.vault
        ? `PII vault on: recovery public key "${config.vault.kid}" well formed (X25519)`
        : "PII vault off (no PII_VAULT_PUBLIC_KEY_FILE / PII_VAULT_PUBLIC_KEY)",
    },
    ...(config.vault ? [sealingLine()] : []),
    ...config.warnings.map((text) => ({ ok: true, warn: true, text })),
  ];
  const queueUrl = config.queueUrl as string;
  const sqs = sqsClientFor(config, { maxSockets: 4 });
  const pool = createPool(
    { databaseUrl: config.databaseUrl as string, schema: config.dbSchema, poolSize: 1 },
    createLogger("silent"),
  );
  try {
    try {
      const queue = await describeQueue(sqs, queueUrl);
      lines.push({
        ok: true,
        text: `queue ${queueUrl} reachable: ~${queue.approximateMessages} visible, ~${queue.approximateInFlight} in flight`,
      });
      const minVisibility = Math.ceil((config.flushIntervalMs + 5_000) / 1000) * 2;
      lines.push(
        queue.visibilityTimeoutSeconds === 0
          ? {
              ok: false,
              text: "visibility timeout 0 s: every message would be received again at once, over and over (run and drain refuse it); expected at least 1 s, 30 or more is usual",
            }
          : queue.visibilityTimeoutSeconds >= minVisibility
            ? { ok: true, text: `visibility timeout ${queue.visibilityTimeoutSeconds} s` }
            : {
                ok: false,
                text: `visibility timeout ${queue.visibilityTimeoutSeconds} s is short: expected at least ${minVisibility} s for flush interval ${config.flushIntervalMs} ms`,
              },
      );
      const dlqUrl = config.dlqUrl ?? queue.redriveDlqUrl;
      lines.push(
        queue.redriveDlqUrl
          ? {
              ok: true,
              text: `redrive policy to ${queue.redriveDlqUrl} after ${queue.maxReceiveCount} receives`,
            }
          : {
              ok: false,
              text: "no redrive policy: a message that keeps failing is received forever; add one with a dead-letter queue",
            },
      );
      if (dlqUrl) {
        try {
          await pingQueue(sqs, dlqUrl);
          lines.push({ ok: true, text: `dead-letter queue ${dlqUrl} reachable` });
        } catch (err) {
          lines.push({
            ok: false,
            text: `dead-letter queue: ${describe(err)}`,
          });
        }
      } else {
        lines.push({
          ok: false,
          text: "no dead-letter queue (SQS_DLQ_URL unset and no redrive policy): rejected messages stay on the queue",
        });
      }
    } catch (err) {
      lines.push({ ok: false, text: `queue: ${describe(err)}` });
    }
    try {
      await checkDatabase(pool, lines);
      lines.push({ ok: true, text: `database ${redactUrl(config.databaseUrl as string)} reachable` });
    } catch (err) {
      lines.push({ ok: false, text: `database: ${describe(isEtlError(err) ? err : pgError(err, "check"))}` });
    }
  } finally {
    sqs.destroy();
    await pool.end();
  }
  for (const line of lines)
    print(ctx.stdout, `${line.warn ? "WARN" : line.ok ? "ok  " : "FAIL"} ${line.text}`);
  const failed = lines.filter((l) => !l.ok).length;
  if (failed) throw new EtlError("CHECK_FAILED", `${failed} problem(s) found`, { context: { failed } });
  return 0;
}

async function checkDatabase(pool: ReturnType<typeof createPool>, lines: Line[]): Promise<void> {
  const expected = loadMigrations().map((m) => m.version);
  const tables = await pool.query<{ name: string }>(
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name IN ('user_logins', 'login_etl_schema_migrations')",
  );
  const names = new Set(tables.rows.map((r) => r.name));
  if (!names.has("login_etl_schema_migrations")) {
    lines.push({
      ok: false,
      text: `migrations not applied (expected versions ${expected.join(", ")}): run \`login-etl migrate\` (run and drain also apply them)`,
    });
    return;
  }
  const applied = new Set(
    (await pool.query<{ version: number }>("SELECT version FROM login_etl_schema_migrations")).rows.map(
      (r) => r.version,
    ),
  );
  const missing = expected.filter((v) => !applied.has(v));
  lines.push(
    missing.length
      ? { ok: false, text: `migrations missing: ${missing.join(", ")}: run \`login-etl migrate\`` }
      : { ok: true, text: `migrations ${expected.join(", ")} applied` },
  );
  if (!names.has("user_logins")) {
    lines.push({ ok: false, text: "table user_logins is missing" });
    return;
  }
  const indexes = await pool.query<{ def: string }>(
    "SELECT indexdef AS def FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'user_logins'",
  );
  const defs = indexes.rows.map((r) => r.def);
  const { rows: rights } = await pool.query<{ can_insert: boolean; can_select: boolean }>(
    "SELECT has_table_privilege('user_logins', 'INSERT') AS can_insert, has_table_privilege('user_logins', 'SELECT') AS can_select",
  );
  lines.push(
    rights[0]?.can_insert && rights[0]?.can_select
      ? { ok: true, text: "the DATABASE_URL role may SELECT and INSERT on user_logins" }
      : {
          ok: false,
          text: "the DATABASE_URL role may not SELECT and INSERT on user_logins: grant both (and USAGE on its schema) [DB_ACCESS_DENIED]",
        },
  );
  lines.push(
    (await hasIdempotencyIndex(pool))
      ? { ok: true, text: "valid unique index on message_id" }
      : { ok: false, text: IDEMPOTENCY_INDEX_PROBLEM },
  );
  const want: Array<[string, RegExp]> = [
    ["index on masked_ip", /INDEX .* \(masked_ip\b/],
    ["index on masked_device_id", /INDEX .* \(masked_device_id\b/],
  ];
  for (const [what, pattern] of want) {
    lines.push(
      defs.some((d) => pattern.test(d))
        ? { ok: true, text: what }
        : { ok: false, text: `${what} is missing: run \`login-etl migrate\`` },
    );
  }
}
