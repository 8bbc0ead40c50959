// The settings table: each setting's environment variable, flag, rule and
// default, and the settings each command reads. config.ts loads and validates
// them against this table.
import { z } from "zod";

/** "vault": read the optional vault public key (run, drain, check). */
export type Need = "queue" | "database" | "keyring" | "vault";

/** One setting: its environment variable, its flag (commander's camelCase key), and its rule. */
export interface Setting {
  readonly env: string;
  readonly flag?: string;
  readonly expected: string;
  readonly schema: z.ZodType;
  readonly need?: Need;
}

const httpUrl = z.string().regex(/^https?:\/\/[^\s]+$/);
const count = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const UNITS: Record<string, number> = { "": 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };
/** A byte size: a whole number with an optional KiB, MiB or GiB suffix. */
const byteSize = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+\s*([KMG]iB)?$/i)
    .transform((v) => {
      const [, n = "", unit = ""] = /^(\d+)\s*(\w*)$/.exec(v) ?? [];
      return Number(n) * (UNITS[unit.toLowerCase()] ?? Number.NaN);
    })
    .pipe(z.number().int().min(min).max(max));

export const SETTINGS = {
  queueUrl: {
    env: "SQS_QUEUE_URL",
    flag: "queueUrl",
    expected: "the queue's URL (http:// or https://)",
    schema: httpUrl,
    need: "queue",
  },
  endpointUrl: {
    env: "SQS_ENDPOINT_URL",
    flag: "endpointUrl",
    expected: "an http(s) URL, or unset for AWS",
    schema: httpUrl.nullable(),
  },
  region: {
    env: "AWS_REGION",
    flag: "region",
    expected: "an AWS region such as us-east-1",
    schema: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/),
  },
  dlqUrl: {
    env: "SQS_DLQ_URL",
    flag: "dlqUrl",
    expected: "the dead-letter queue's URL, or unset",
    schema: httpUrl.nullable(),
  },
  databaseUrl: {
    env: "DATABASE_URL",
    flag: "databaseUrl",
    expected: "a postgres://user:password@host:port/database URL",
    schema: z
      .string()
      .regex(/^postgres(ql)?:\/\/\S+$/)
      .refine((u) => URL.canParse(u)),
    need: "database",
  },
  dbSchema: {
    env: "LOGIN_ETL_DB_SCHEMA",
    flag: "dbSchema",
    expected: "a schema name ([a-z_][a-z0-9_]*)",
    schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/),
  },
  pollers: {
    env: "LOGIN_ETL_POLLERS",
    flag: "pollers",
    expected: "a whole number from 1 to 64",
    schema: count(1, 64),
  },
  batchSize: {
    env: "LOGIN_ETL_BATCH_SIZE",
    flag: "batchSize",
    expected: "a whole number from 1 to 10000",
    schema: count(1, 10_000),
  },
  flushIntervalMs: {
    env: "LOGIN_ETL_FLUSH_INTERVAL_MS",
    flag: "flushIntervalMs",
    expected: "milliseconds from 1 to 60000",
    schema: count(1, 60_000),
  },
  maxInFlight: {
    env: "LOGIN_ETL_MAX_IN_FLIGHT",
    flag: "maxInFlight",
    expected: "a whole number from 10 to 100000",
    schema: count(10, 100_000),
  },
  maxInFlightBytes: {
    env: "LOGIN_ETL_MAX_IN_FLIGHT_BYTES",
    flag: "maxInFlightBytes",
    expected: "a size from 1MiB to 4GiB, such as 64MiB or 67108864 (bytes)",
    schema: byteSize(1024 ** 2, 4 * 1024 ** 3),
  },
  writers: {
    env: "LOGIN_ETL_WRITERS",
    flag: "writers",
    expected: "a whole number from 1 to 16",
    schema: count(1, 16),
  },
  waitTimeSeconds: {
    env: "LOGIN_ETL_WAIT_TIME_SECONDS",
    flag: "waitTimeSeconds",
    expected: "seconds from 0 to 20",
    schema: count(0, 20).nullable(),
  },
  shutdownTimeoutMs: {
    env: "LOGIN_ETL_SHUTDOWN_TIMEOUT_MS",
    flag: "shutdownTimeoutMs",
    expected: "milliseconds from 100 to 600000",
    schema: count(100, 600_000),
  },
  maxHoldSeconds: {
    env: "LOGIN_ETL_MAX_HOLD_SECONDS",
    flag: "maxHoldSeconds",
    expected: "seconds from 1 to 43200",
    schema: count(1, 43_200),
  },
  stallSeconds: {
    env: "LOGIN_ETL_STALL_SECONDS",
    flag: "stallSeconds",
    expected: "seconds from 1 to 3600, or unset for three long polls plus 30 s",
    schema: count(1, 3_600).nullable(),
  },
  httpPort: {
    env: "LOGIN_ETL_HTTP_PORT",
    flag: "httpPort",
    expected: "a TCP port from 0 to 65535",
    schema: count(0, 65_535),
  },
  httpHost: {
    env: "LOGIN_ETL_HTTP_HOST",
    flag: "httpHost",
    expected: "an interface address such as 0.0.0.0",
    schema: z.string().min(1),
  },
  logLevel: {
    env: "LOGIN_ETL_LOG_LEVEL",
    flag: "logLevel",
    expected: "one of fatal, error, warn, info, debug, trace, silent",
    schema: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
  },
} as const satisfies Record<string, Setting>;

export const DEFAULTS: { [K in SettingName]?: string } = {
  region: "us-east-1",
  dbSchema: "public",
  pollers: "8",
  batchSize: "1000",
  flushIntervalMs: "250",
  maxInFlight: "2000",
  maxInFlightBytes: "8MiB",
  writers: "2",
  shutdownTimeoutMs: "25000",
  maxHoldSeconds: "900",
  httpPort: "9464",
  httpHost: "0.0.0.0",
  logLevel: "info",
};

export type SettingName = keyof typeof SETTINGS;
export const ALL_SETTINGS = Object.keys(SETTINGS) as SettingName[];
const SQS_SETTINGS: SettingName[] = ["queueUrl", "endpointUrl", "region", "dlqUrl"];
const DB_SETTINGS: SettingName[] = ["databaseUrl", "dbSchema"];
const TUNING_SETTINGS: SettingName[] = [
  "pollers",
  "batchSize",
  "flushIntervalMs",
  "maxInFlight",
  "maxInFlightBytes",
  "writers",
  "waitTimeSeconds",
  "shutdownTimeoutMs",
  "maxHoldSeconds",
  "logLevel",
];
const HTTP_SETTINGS: SettingName[] = ["httpPort", "httpHost", "stallSeconds"];

/** The settings each command reads (and offers as flags); the others are never looked at. */
export const COMMAND_SETTINGS = {
  run: [...SQS_SETTINGS, ...DB_SETTINGS, ...TUNING_SETTINGS, ...HTTP_SETTINGS],
  drain: [...SQS_SETTINGS, ...DB_SETTINGS, ...TUNING_SETTINGS],
  check: [...SQS_SETTINGS, ...DB_SETTINGS, "flushIntervalMs"],
  migrate: [...DB_SETTINGS, "logLevel"],
  produce: ["queueUrl", "endpointUrl", "region", "logLevel"],
  mask: [],
  unmask: [...DB_SETTINGS],
  forget: [...DB_SETTINGS],
  rekey: [...DB_SETTINGS, "logLevel"],
} as const satisfies Record<string, readonly SettingName[]>;
