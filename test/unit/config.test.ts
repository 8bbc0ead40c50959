import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import {
  COMMAND_SETTINGS,
  type Config,
  DEFAULTS,
  type Env,
  type Flags,
  loadConfig,
  type Need,
  redactUrl,
} from "../../src/config.ts";
import { EtlError } from "../../src/errors.ts";
import { VECTOR_KEY_B64, VECTOR_KEYRING_JSON } from "./fixtures.ts";

const PASSWORD = "s3cr3t-Pa55w0rd";
const DATABASE_URL = `postgres://etl:${PASSWORD}@db.internal:5432/logins`;
const QUEUE_URL = "http://localhost:4566/000000000000/login-queue";

const dir = mkdtempSync(join(tmpdir(), "login-etl-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function keyringFile(text: string): string {
  const path = join(dir, `keyring-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, text);
  return path;
}

const needs = (...n: Need[]) => new Set<Need>(n);

/** The EtlError loadConfig throws, or a failure when it returns. */
function configError(env: Env, flags: Flags, n: ReadonlySet<Need>): EtlError {
  try {
    loadConfig(env, flags, n);
  } catch (err) {
    expect(err).toBeInstanceOf(EtlError);
    const e = err as EtlError;
    expect(e.code).toBe("CONFIG_INVALID");
    expect(e.exitCode).toBe(2);
    return e;
  }
  throw new Error("expected loadConfig to throw");
}

/** Every form an error takes when printed or logged. */
const printed = (e: EtlError) => [
  e.message,
  String(e),
  e.stack ?? "",
  inspect(e),
  JSON.stringify(e),
  JSON.stringify(e.context),
];

const FULL_ENV: Env = {
  SQS_QUEUE_URL: QUEUE_URL,
  SQS_ENDPOINT_URL: "http://localhost:4566",
  DATABASE_URL,
  PII_KEYRING: VECTOR_KEYRING_JSON,
};

describe("loadConfig", () => {
  it("applies the defaults when nothing is set", () => {
    const config = loadConfig({}, {}, needs());
    expect(config).toEqual({
      queueUrl: null,
      endpointUrl: null,
      region: "us-east-1",
      dlqUrl: null,
      databaseUrl: null,
      dbSchema: "public",
      pollers: 8,
      batchSize: 1000,
      flushIntervalMs: 250,
      maxInFlight: 2000,
      maxInFlightBytes: 8 * 1024 * 1024,
      writers: 2,
      waitTimeSeconds: null,
      shutdownTimeoutMs: 25000,
      maxHoldSeconds: 900,
      stallSeconds: null,
      httpPort: 9464,
      httpHost: "0.0.0.0",
      logLevel: "info",
      keyring: null,
      warnings: [],
      vault: null,
    } satisfies Config);
  });

  it("treats an empty environment variable as unset", () => {
    const config = loadConfig({ AWS_REGION: "", LOGIN_ETL_POLLERS: "" }, {}, needs());
    expect(config.region).toBe(DEFAULTS.region);
    expect(config.pollers).toBe(8);
  });

  it("reads every setting from the environment, numbers as numbers", () => {
    const config = loadConfig(
      {
        ...FULL_ENV,
        SQS_ENDPOINT_URL: "http://127.0.0.1:4566",
        AWS_REGION: "eu-west-2",
        SQS_DLQ_URL: "https://sqs.eu-west-2.amazonaws.com/1/dlq",
        LOGIN_ETL_DB_SCHEMA: "etl_test",
        LOGIN_ETL_POLLERS: "8",
        LOGIN_ETL_BATCH_SIZE: "1000",
        LOGIN_ETL_FLUSH_INTERVAL_MS: "50",
        LOGIN_ETL_MAX_IN_FLIGHT: "5000",
        LOGIN_ETL_WRITERS: "4",
        LOGIN_ETL_WAIT_TIME_SECONDS: "0",
        LOGIN_ETL_SHUTDOWN_TIMEOUT_MS: "1000",
        LOGIN_ETL_MAX_HOLD_SECONDS: "60",
        LOGIN_ETL_HTTP_PORT: "0",
        LOGIN_ETL_HTTP_HOST: "127.0.0.1",
        LOGIN_ETL_LOG_LEVEL: "warn",
      },
      {},
      needs("queue", "database", "keyring"),
    );
    expect(config).toMatchObject({
      queueUrl: QUEUE_URL,
      endpointUrl: "http://127.0.0.1:4566",
      region: "eu-west-2",
      dlqUrl: "https://sqs.eu-west-2.amazonaws.com/1/dlq",
      databaseUrl: DATABASE_URL,
      dbSchema: "etl_test",
      pollers: 8,
      batchSize: 1000,
      flushIntervalMs: 50,
      maxInFlight: 5000,
      writers: 4,
      waitTimeSeconds: 0,
      shutdownTimeoutMs: 1000,
      maxHoldSeconds: 60,
      httpPort: 0,
      httpHost: "127.0.0.1",
      logLevel: "warn",
    });
    expect(config.keyring?.primary).toBe("k1");
  });

  it("lets flags override the environment", () => {
    const config = loadConfig(
      { ...FULL_ENV, LOGIN_ETL_POLLERS: "3", AWS_REGION: "eu-west-1", SQS_QUEUE_URL: "http://env/queue" },
      { pollers: 9, region: "ap-southeast-2", queueUrl: QUEUE_URL, databaseUrl: "postgresql://flag@h/db" },
      needs("queue", "database"),
    );
    expect(config.pollers).toBe(9);
    expect(config.region).toBe("ap-southeast-2");
    expect(config.queueUrl).toBe(QUEUE_URL);
    expect(config.databaseUrl).toBe("postgresql://flag@h/db");
  });

  it("validates a flag value like an environment value, naming both the variable and the flag", () => {
    const e = configError({ LOGIN_ETL_BATCH_SIZE: "100" }, { batchSize: "0" }, needs());
    expect(e.message).toContain(
      "LOGIN_ETL_BATCH_SIZE (--batch-size): invalid; expected a whole number from 1 to 10000",
    );
  });

  it("reports every problem at once, each naming its environment variable", () => {
    const e = configError(
      {
        SQS_QUEUE_URL: "ftp://nowhere/queue",
        AWS_REGION: "Mars",
        LOGIN_ETL_POLLERS: "0",
        LOGIN_ETL_BATCH_SIZE: "lots",
        LOGIN_ETL_FLUSH_INTERVAL_MS: "2.5",
        LOGIN_ETL_LOG_LEVEL: "loud",
        LOGIN_ETL_DB_SCHEMA: "Bad-Schema",
      },
      {},
      needs("queue", "database", "keyring"),
    );
    const vars = [
      "SQS_QUEUE_URL",
      "AWS_REGION",
      "LOGIN_ETL_POLLERS",
      "LOGIN_ETL_BATCH_SIZE",
      "LOGIN_ETL_FLUSH_INTERVAL_MS",
      "LOGIN_ETL_LOG_LEVEL",
      "LOGIN_ETL_DB_SCHEMA",
      "DATABASE_URL",
      "PII_KEYRING",
    ];
    for (const v of vars) expect(e.message).toContain(v);
    expect(e.context.problems).toBe(vars.length);
    expect(e.message.split("\n  - ")).toHaveLength(vars.length + 1);
    expect(e.message).toContain("DATABASE_URL (--database-url): required; expected");
    expect(e.message).toContain(
      "LOGIN_ETL_POLLERS (--pollers): invalid; expected a whole number from 1 to 64",
    );
  });

  it.each([
    ["LOGIN_ETL_POLLERS", "65"],
    ["LOGIN_ETL_WRITERS", "0"],
    ["LOGIN_ETL_WAIT_TIME_SECONDS", "21"],
    ["LOGIN_ETL_HTTP_PORT", "65536"],
    ["LOGIN_ETL_MAX_IN_FLIGHT", "9"],
    ["LOGIN_ETL_SHUTDOWN_TIMEOUT_MS", "99"],
    ["LOGIN_ETL_MAX_HOLD_SECONDS", "43201"],
    ["LOGIN_ETL_FLUSH_INTERVAL_MS", "60001"],
    ["SQS_ENDPOINT_URL", "localhost:4566"],
    ["SQS_DLQ_URL", "arn:aws:sqs:us-east-1:1:dlq"],
    ["DATABASE_URL", "mysql://u:p@h/db"],
    ["LOGIN_ETL_DB_SCHEMA", "1public"],
  ])("rejects %s=%s", (name, value) => {
    const e = configError({ [name]: value }, {}, needs());
    expect(e.message).toContain(`${name} `);
    expect(e.context.problems).toBe(1);
  });

  it("requires only the settings of the needs passed", () => {
    expect(() => loadConfig({}, {}, needs())).not.toThrow();
    expect(loadConfig({ PII_KEYRING: VECTOR_KEYRING_JSON }, {}, needs("keyring")).keyring?.primary).toBe(
      "k1",
    );

    const queue = configError({}, {}, needs("queue"));
    expect(queue.message).toContain("SQS_QUEUE_URL");
    expect(queue.message).not.toContain("DATABASE_URL");
    expect(queue.message).not.toContain("PII_KEYRING");

    const database = configError({}, {}, needs("database"));
    expect(database.message).toContain("DATABASE_URL");
    expect(database.message).not.toContain("SQS_QUEUE_URL");

    const keyring = configError({}, {}, needs("keyring"));
    expect(keyring.message).toContain("PII_KEYRING or PII_KEYRING_FILE: required");
    expect(keyring.message).not.toContain("DATABASE_URL");
  });

  it("still validates a setting that is present but not needed", () => {
    const e = configError({ DATABASE_URL: "not a url" }, {}, needs("keyring"));
    expect(e.message).toContain("DATABASE_URL");
  });

  it("never echoes the DATABASE_URL value or its password in the error", () => {
    const cases: Array<[Env, Flags]> = [
      // A bad DATABASE_URL.
      [{ DATABASE_URL: `mysql://etl:${PASSWORD}@db:3306/logins` }, {}],
      [{ DATABASE_URL: `postgres://etl:${PASSWORD}@db/logins with space` }, {}],
      [{}, { databaseUrl: `postgres://etl:${PASSWORD}@db/logins\n` }],
      // A good DATABASE_URL beside other problems.
      [{ DATABASE_URL, LOGIN_ETL_POLLERS: "x" }, {}],
    ];
    for (const [env, flags] of cases) {
      const e = configError(env, flags, needs("queue", "database"));
      for (const text of printed(e)) {
        expect(text).not.toContain(PASSWORD);
        expect(text).not.toContain("db.internal");
      }
    }
  });

  describe("keyring", () => {
    it("reads the keyring inline from PII_KEYRING, as JSON or base64 of JSON", () => {
      const json = loadConfig({ PII_KEYRING: VECTOR_KEYRING_JSON }, {}, needs("keyring"));
      const b64 = loadConfig(
        { PII_KEYRING: Buffer.from(VECTOR_KEYRING_JSON).toString("base64") },
        {},
        needs("keyring"),
      );
      expect(json.keyring?.keys.get("k1")?.toString("base64")).toBe(VECTOR_KEY_B64);
      expect(b64.keyring).toEqual(json.keyring);
    });

    it("reads the keyring from the file PII_KEYRING_FILE names", () => {
      const config = loadConfig(
        { PII_KEYRING_FILE: keyringFile(`${VECTOR_KEYRING_JSON}\n`) },
        {},
        needs("keyring"),
      );
      expect(config.keyring?.primary).toBe("k1");
    });

    it("reads the keyring from the --keyring-file flag", () => {
      const config = loadConfig({}, { keyringFile: keyringFile(VECTOR_KEYRING_JSON) }, needs("keyring"));
      expect(config.keyring?.primary).toBe("k1");
    });

    it("rejects PII_KEYRING and PII_KEYRING_FILE set together", () => {
      const e = configError(
        { PII_KEYRING: VECTOR_KEYRING_JSON, PII_KEYRING_FILE: keyringFile(VECTOR_KEYRING_JSON) },
        {},
        needs("keyring"),
      );
      expect(e.message).toContain("PII_KEYRING_FILE and PII_KEYRING: both are set");
      for (const text of printed(e)) expect(text).not.toContain(VECTOR_KEY_B64);
    });

    it("does not read the keyring settings when the command does not need a keyring (migrate never fails on them)", () => {
      const config = loadConfig(
        { PII_KEYRING: VECTOR_KEYRING_JSON, PII_KEYRING_FILE: keyringFile(VECTOR_KEYRING_JSON) },
        {},
        needs(),
      );
      expect(config.keyring).toBeNull();
    });

    it("names PII_KEYRING_FILE and the error code when the file cannot be read", () => {
      const e = configError({ PII_KEYRING_FILE: join(dir, "missing.json") }, {}, needs("keyring"));
      expect(e.message).toMatch(/PII_KEYRING_FILE: cannot read .*missing\.json \(ENOENT\)/);
    });

    it("prefixes keyring problems with the setting and never shows key material", () => {
      const shortKey = Buffer.alloc(31, 0x5a).toString("base64");
      const text = JSON.stringify({ primary: "k9", keys: [{ kid: "k1", key: shortKey }] });
      const inline = configError({ PII_KEYRING: text }, {}, needs("keyring"));
      const file = configError({ PII_KEYRING_FILE: keyringFile(text) }, {}, needs("keyring"));
      expect(inline.message).toContain("PII_KEYRING: keys.0.key must be the base64 of exactly 32 bytes");
      expect(file.message).toContain("PII_KEYRING_FILE: keys.0.key must be the base64 of exactly 32 bytes");
      for (const e of [inline, file])
        for (const t of printed(e)) expect(t).not.toContain(shortKey.slice(0, 10));
    });

    it("reports keyring problems together with the other problems", () => {
      const e = configError(
        { PII_KEYRING: "{oops", LOGIN_ETL_WRITERS: "99" },
        {},
        needs("database", "keyring"),
      );
      expect(e.context.problems).toBe(3);
      expect(e.message).toContain("PII_KEYRING: is not JSON");
      expect(e.message).toContain("LOGIN_ETL_WRITERS");
      expect(e.message).toContain("DATABASE_URL");
    });
  });

  it("returns a frozen config", () => {
    const config = loadConfig(FULL_ENV, {}, needs("queue", "database", "keyring"));
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { pollers: number }).pollers = 99;
    }).toThrow(TypeError);
    expect(config.pollers).toBe(8);
  });
});

describe("redactUrl", () => {
  it("replaces the password and keeps the rest", () => {
    const out = redactUrl(DATABASE_URL);
    expect(out).not.toContain(PASSWORD);
    expect(out).toBe("postgres://etl:***@db.internal:5432/logins");
  });

  it("replaces a percent-encoded password", () => {
    const out = redactUrl("postgresql://etl:p%40ss%2Fword@db:5432/logins?sslmode=require");
    expect(out).toBe("postgresql://etl:***@db:5432/logins?sslmode=require");
  });

  it("leaves a URL without a password as it was", () => {
    expect(redactUrl("postgres://etl@db:5432/logins")).toBe("postgres://etl@db:5432/logins");
  });

  it("prints a placeholder, not the text, for an unparseable URL", () => {
    expect(redactUrl(`postgres://etl:${PASSWORD}@db:port/logins`)).toBe("(unparseable URL)");
  });

  // node-postgres (pg-connection-string) takes the password from a `password`
  // query parameter too, so such a URL carries the password there.
  it("hides a password given as a password= query parameter", () => {
    const out = redactUrl(`postgres://etl@db:5432/logins?sslmode=require&password=${PASSWORD}`);
    expect(out).not.toContain(PASSWORD);
  });
});

describe("loadConfig: scopes and cross-checks", () => {
  it("does not look at settings outside the command's scope (mask with a broken DATABASE_URL)", () => {
    const config = loadConfig(
      { DATABASE_URL: "mysql://nope", LOGIN_ETL_POLLERS: "lots", PII_KEYRING: VECTOR_KEYRING_JSON },
      {},
      needs("keyring"),
      COMMAND_SETTINGS.mask,
    );
    expect(config.keyring?.primary).toBe("k1");
    expect(config.databaseUrl).toBeNull();
    expect(config.pollers).toBe(Number(DEFAULTS.pollers));
  });

  it("rejects a DATABASE_URL that is no URL at all (a port out of range)", () => {
    const e = configError({ DATABASE_URL: "postgres://u:pw@127.0.0.1:99999/db" }, {}, needs("database"));
    expect(e.message).toMatch(/DATABASE_URL \(--database-url\): invalid/);
    expect(e.message).not.toContain(":pw@");
  });

  it("asks for at least 10 in flight per poller, so no poller starves", () => {
    const e = configError({ LOGIN_ETL_POLLERS: "8", LOGIN_ETL_MAX_IN_FLIGHT: "40" }, {}, needs());
    expect(e.message).toMatch(/LOGIN_ETL_MAX_IN_FLIGHT .*at least 10 per poller \(80 for 8 pollers\)/);
  });

  it("refuses a dead-letter queue that is the source queue itself", () => {
    const e = configError({ SQS_QUEUE_URL: QUEUE_URL, SQS_DLQ_URL: QUEUE_URL }, {}, needs("queue"));
    expect(e.message).toMatch(/SQS_DLQ_URL .*other than SQS_QUEUE_URL/);
  });

  it("lets --keyring-file win over PII_KEYRING", () => {
    const config = loadConfig(
      { PII_KEYRING: "not a keyring" },
      { keyringFile: keyringFile(VECTOR_KEYRING_JSON) },
      needs("keyring"),
    );
    expect(config.keyring?.primary).toBe("k1");
  });
});

describe("loadConfig: transport and schema safety", () => {
  it("refuses a plain http queue URL unless an endpoint (an emulator) is set", () => {
    const e = configError(
      { ...FULL_ENV, SQS_ENDPOINT_URL: "", SQS_DLQ_URL: "http://sqs.example/1/dlq" },
      {},
      needs("queue", "database", "keyring"),
    );
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain(
      "SQS_QUEUE_URL (--queue-url): plain http:// is allowed only with SQS_ENDPOINT_URL set",
    );
    expect(e.message).toContain("SQS_DLQ_URL (--dlq-url): plain http:// is allowed only");
  });

  it("refuses a DATABASE_URL whose options set a search_path other than LOGIN_ETL_DB_SCHEMA", () => {
    const url = "postgres://u:secret@db/app?options=-c%20search_path%3Dother";
    const e = configError({ ...FULL_ENV, DATABASE_URL: url }, {}, needs("queue", "database", "keyring"));
    expect(e.message).toContain(
      'DATABASE_URL: its options set search_path to "other", but LOGIN_ETL_DB_SCHEMA is "public"',
    );
    expect(e.message).not.toContain("secret");
    const same = loadConfig(
      { ...FULL_ENV, DATABASE_URL: url, LOGIN_ETL_DB_SCHEMA: "other" },
      {},
      needs("queue", "database", "keyring"),
    );
    expect(same.dbSchema).toBe("other");
  });

  it.each([
    ["64MiB", 64 * 1024 ** 2],
    ["2 GiB", 2 * 1024 ** 3],
    ["1048576", 1024 ** 2],
  ])("reads LOGIN_ETL_MAX_IN_FLIGHT_BYTES=%s", (value, bytes) => {
    expect(loadConfig({ LOGIN_ETL_MAX_IN_FLIGHT_BYTES: value }, {}, needs()).maxInFlightBytes).toBe(bytes);
  });

  it.each(["10", "64MB", "lots", "8GiB"])("refuses LOGIN_ETL_MAX_IN_FLIGHT_BYTES=%s", (value) => {
    const e = configError({ LOGIN_ETL_MAX_IN_FLIGHT_BYTES: value }, {}, needs());
    expect(e.message).toContain(
      "LOGIN_ETL_MAX_IN_FLIGHT_BYTES (--max-in-flight-bytes): invalid; expected a size",
    );
  });

  it("warns loudly, without refusing, about a keyring file other users may read", () => {
    const dir = mkdtempSync(join(tmpdir(), "keyring-mode-"));
    try {
      const file = join(dir, "keyring.json");
      writeFileSync(file, VECTOR_KEYRING_JSON, { mode: 0o644 });
      const open = loadConfig({ PII_KEYRING_FILE: file }, {}, needs("keyring"));
      expect(open.warnings).toEqual([
        expect.stringContaining(
          `PII_KEYRING_FILE: ${file} has mode 644, so every user on this machine may read`,
        ),
      ]);
      expect(open.warnings.join()).not.toContain(VECTOR_KEY_B64);
      const privateFile = join(dir, "private.json");
      writeFileSync(privateFile, VECTOR_KEYRING_JSON, { mode: 0o600 });
      expect(loadConfig({ PII_KEYRING_FILE: privateFile }, {}, needs("keyring")).warnings).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
