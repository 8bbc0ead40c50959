// Environment + flags → one validated, frozen Config. Every problem is
// reported at once, each naming the setting and what was expected; no value of
// a secret setting is ever echoed.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { EtlError } from "./errors.ts";
import { type Keyring, parseKeyring } from "./transform/keyring.ts";

export type Need = "queue" | "database" | "keyring";

/** One setting: its environment variable, its flag (commander's camelCase key), and its rule. */
interface Setting {
  readonly env: string;
  readonly flag?: string;
  readonly expected: string;
  readonly schema: z.ZodType;
  readonly need?: Need;
}

const httpUrl = z.string().regex(/^https?:\/\/[^\s]+$/);
const count = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

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
  pollers: "4",
  batchSize: "500",
  flushIntervalMs: "250",
  maxInFlight: "2000",
  writers: "2",
  shutdownTimeoutMs: "25000",
  maxHoldSeconds: "900",
  httpPort: "9464",
  httpHost: "0.0.0.0",
  logLevel: "info",
};

export interface Config {
  readonly queueUrl: string | null;
  readonly endpointUrl: string | null;
  readonly region: string;
  readonly dlqUrl: string | null;
  readonly databaseUrl: string | null;
  readonly dbSchema: string;
  readonly pollers: number;
  readonly batchSize: number;
  readonly flushIntervalMs: number;
  readonly maxInFlight: number;
  readonly writers: number;
  /** null: the command's own default (20 for run, 1 for drain). */
  readonly waitTimeSeconds: number | null;
  readonly shutdownTimeoutMs: number;
  readonly maxHoldSeconds: number;
  readonly httpPort: number;
  readonly httpHost: string;
  readonly logLevel: string;
  readonly keyring: Keyring | null;
}

export type Flags = Record<string, unknown>;
export type Env = Record<string, string | undefined>;

function keyringFrom(env: Env, flags: Flags, problems: string[]): Keyring | null {
  // A flag overrides the environment: --keyring-file wins over both variables.
  const flagFile = flags.keyringFile as string | undefined;
  const file = flagFile ?? env.PII_KEYRING_FILE;
  const inline = flagFile ? undefined : env.PII_KEYRING;
  if (file && inline) {
    problems.push("PII_KEYRING_FILE and PII_KEYRING: both are set; expected exactly one of them");
    return null;
  }
  if (!file && !inline) {
    problems.push(
      'PII_KEYRING or PII_KEYRING_FILE: required; expected a keyring {"primary": kid, "keys": [{"kid", "key"}]} (make one with `login-etl keygen`)',
    );
    return null;
  }
  const setting = file ? "PII_KEYRING_FILE" : "PII_KEYRING";
  let text = inline ?? "";
  if (file) {
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      problems.push(
        `PII_KEYRING_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? "error"}); expected a readable keyring file`,
      );
      return null;
    }
  }
  const parsed = parseKeyring(text);
  if ("problems" in parsed) {
    for (const p of parsed.problems) problems.push(`${setting}: ${p}`);
    return null;
  }
  return parsed.keyring;
}

export type SettingName = keyof typeof SETTINGS;
const ALL_SETTINGS = Object.keys(SETTINGS) as SettingName[];
const SQS_SETTINGS: SettingName[] = ["queueUrl", "endpointUrl", "region", "dlqUrl"];
const DB_SETTINGS: SettingName[] = ["databaseUrl", "dbSchema"];
const TUNING_SETTINGS: SettingName[] = [
  "pollers",
  "batchSize",
  "flushIntervalMs",
  "maxInFlight",
  "writers",
  "waitTimeSeconds",
  "shutdownTimeoutMs",
  "maxHoldSeconds",
  "logLevel",
];
const HTTP_SETTINGS: SettingName[] = ["httpPort", "httpHost"];

/** The settings each command reads (and offers as flags); the others are never looked at. */
export const COMMAND_SETTINGS = {
  run: [...SQS_SETTINGS, ...DB_SETTINGS, ...TUNING_SETTINGS, ...HTTP_SETTINGS],
  drain: [...SQS_SETTINGS, ...DB_SETTINGS, ...TUNING_SETTINGS],
  check: [...SQS_SETTINGS, ...DB_SETTINGS, "flushIntervalMs"],
  migrate: [...DB_SETTINGS, "logLevel"],
  produce: ["queueUrl", "endpointUrl", "region"],
  mask: [],
} as const satisfies Record<string, readonly SettingName[]>;

/**
 * Validates the settings in `scope` (a command's own; the rest keep their
 * defaults and are not read, so `mask` never fails on a database setting), with
 * those `needs` requires made mandatory, and the keyring when `needs` has it.
 * Throws EtlError CONFIG_INVALID listing every problem.
 */
export function loadConfig(
  env: Env,
  flags: Flags,
  needs: ReadonlySet<Need>,
  scope: readonly SettingName[] = ALL_SETTINGS,
): Config {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(SETTINGS) as Array<[SettingName, Setting]>) {
    const inScope = scope.includes(name);
    const fromFlag = setting.flag && inScope ? flags[setting.flag] : undefined;
    const raw =
      fromFlag !== undefined ? String(fromFlag) : (inScope ? env[setting.env] : undefined) || DEFAULTS[name];
    const label = setting.flag ? `${setting.env} (--${kebab(setting.flag)})` : setting.env;
    if (raw === undefined || raw === "") {
      if (inScope && setting.need && needs.has(setting.need))
        problems.push(`${label}: required; expected ${setting.expected}`);
      values[name] = null;
      continue;
    }
    const parsed = setting.schema.safeParse(raw);
    if (parsed.success) values[name] = parsed.data;
    // Never echo the value: DATABASE_URL holds a password.
    else problems.push(`${label}: invalid; expected ${setting.expected}`);
  }
  const keyring = needs.has("keyring") || flags.keyringFile ? keyringFrom(env, flags, problems) : null;
  // Each poller reserves room for a full receive before it polls: less room than that starves pollers.
  const pollers = values.pollers as number | null;
  const maxInFlight = values.maxInFlight as number | null;
  if (pollers && maxInFlight && maxInFlight < pollers * 10) {
    problems.push(
      `LOGIN_ETL_MAX_IN_FLIGHT (--max-in-flight): expected at least 10 per poller (${pollers * 10} for ${pollers} pollers)`,
    );
  }
  if (values.dlqUrl && values.dlqUrl === values.queueUrl) {
    problems.push(
      "SQS_DLQ_URL (--dlq-url): expected a queue other than SQS_QUEUE_URL (rejections would loop)",
    );
  }
  if (problems.length) {
    throw new EtlError("CONFIG_INVALID", `invalid configuration:\n  - ${problems.join("\n  - ")}`, {
      context: { problems: problems.length },
    });
  }
  return Object.freeze({ ...(values as Omit<Config, "keyring">), keyring });
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** A database URL safe to print: the password replaced (in the user info or, as libpq allows, the query). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    for (const key of [...u.searchParams.keys()]) {
      if (/pass|secret|key/i.test(key)) u.searchParams.set(key, "***");
    }
    return u.toString();
  } catch {
    return "(unparseable URL)";
  }
}
