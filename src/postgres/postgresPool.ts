// The pg pool and pg error mapping, shared by the sink, migrations and check.
import pg from "pg";
import { describeCause, type ErrorCode, EtlError } from "../errors.ts";
import type { Logger } from "../ops/logger.ts";
import { createProblems } from "../ops/problems.ts";

export interface PostgresSettings {
  readonly databaseUrl: string;
  /** Schema holding user_logins; "public" unless set (tests use one per file). */
  readonly schema: string;
  readonly poolSize: number;
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export function createPool(settings: PostgresSettings, log: Logger): pg.Pool {
  const pool = new pg.Pool({
    connectionString: settings.databaseUrl,
    max: settings.poolSize,
    application_name: "login-etl",
    connectionTimeoutMillis: 5_000,
    // A half-open connection (a database host that vanished) must fail the write, not hang it.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    query_timeout: 60_000,
    options: `-c search_path=${quoteIdent(settings.schema)}`,
  });
  // An idle client whose server went away emits here; without a listener the process would die.
  // Logged, not counted: no write failed (the next one that does counts), and the pool serves
  // commands that export no metrics too.
  const problems = createProblems(log, null);
  pool.on("error", (err) =>
    problems.log("writing", "DB_UNREACHABLE", describeCause(err), "idle database connection lost"),
  );
  return pool;
}

const CONNECTION = /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EPIPE|EHOSTUNREACH)$/;

/** pg failure → EtlError. pg messages can quote values (22xxx/23xxx), so only the SQLSTATE is kept for those. */
export function pgError(err: unknown, operation: string): EtlError {
  const e = err as { code?: string; message?: string; routine?: string };
  const code = typeof e?.code === "string" ? e.code : "";
  const context = { operation, ...describeCause(err) };
  const connectionLost =
    CONNECTION.test(code) ||
    /^(08|57P)/.test(code) ||
    /Connection terminated|timeout expired|Query read timeout|not queryable|Client has encountered a connection error/i.test(
      e?.message ?? "",
    );
  if (connectionLost) {
    return new EtlError(
      "DB_UNREACHABLE",
      `cannot reach PostgreSQL (${operation}: ${code || "connection lost"})`,
      { cause: err, context },
    );
  }
  if (/^(22|23)/.test(code)) {
    return new EtlError("DB_ROW_REFUSED", `PostgreSQL refused a value (${operation}: SQLSTATE ${code})`, {
      cause: err,
      context,
      retryable: false,
    });
  }
  if (code === "42501") {
    return new EtlError(
      "DB_ACCESS_DENIED",
      `PostgreSQL denied a privilege (${operation}: SQLSTATE 42501): grant the DATABASE_URL role SELECT and INSERT on user_logins and USAGE on its schema`,
      {
        cause: err,
        context,
        retryable: false,
      },
    );
  }
  if (code === "28P01" || code === "28000" || code === "3D000") {
    return new EtlError(
      "DB_UNREACHABLE",
      `PostgreSQL refused the connection (${operation}: SQLSTATE ${code}): check DATABASE_URL`,
      {
        cause: err,
        context,
        retryable: false,
      },
    );
  }
  // 55000 here is ON CONFLICT on a DEFERRABLE constraint, 42P10 an ON CONFLICT that no
  // unique index matches: the same write fails the same way on every try.
  if (code === "55000" || code === "42P10") {
    return new EtlError(
      "DB_SCHEMA_MISMATCH",
      `PostgreSQL ${operation} failed (SQLSTATE ${code}): user_logins needs a non-deferrable unique index on message_id; run \`login-etl check\``,
      { cause: err, context, retryable: false },
    );
  }
  // Other 42xxx (a table renamed away, a column missing) are retried: an operator may be
  // migrating or restoring it, and the messages wait on the queue meanwhile.
  const ours: ErrorCode = /^42/.test(code) ? "DB_SCHEMA_MISMATCH" : "DB_WRITE_FAILED";
  return new EtlError(ours, `PostgreSQL ${operation} failed (SQLSTATE ${code || "unknown"})`, {
    cause: err,
    context,
  });
}

/**
 * Runs `fn` on a client of its own and maps failures to EtlError. The pool
 * watches only idle clients for 'error': a connection that dies while held
 * (PostgreSQL stopping: EPIPE under a COPY, the socket closing between two
 * statements) emits 'error' on the client, and with no listener that crashes
 * the process. Here it only marks the client broken; the query in progress (or
 * the next) fails, and a broken client is discarded, never pooled again.
 */
export async function withClient<T>(
  pool: pg.Pool,
  operation: string,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw pgError(err, `${operation} (connect)`);
  }
  let broken = false;
  const onConnectionError = () => {
    broken = true;
  };
  client.on("error", onConnectionError);
  try {
    return await fn(client);
  } catch (err) {
    const mapped = err instanceof EtlError ? err : pgError(err, operation);
    broken ||= mapped.code === "DB_UNREACHABLE";
    throw mapped;
  } finally {
    client.off("error", onConnectionError);
    client.release(broken);
  }
}
