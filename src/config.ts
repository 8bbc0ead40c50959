// Environment + flags → one validated, frozen Config. Every problem is
// reported at once, each naming the setting and what was expected; no value of
// a secret setting is ever echoed.
import { readFileSync } from "node:fs";
import { EtlError } from "./errors.ts";
import { ALL_SETTINGS, DEFAULTS, type Need, SETTINGS, type Setting, type SettingName } from "./settings.ts";
import { type Keyring, parseKeyring } from "./transform/keyring.ts";
import type { RecoveryPublicKey } from "./vault/keys.ts";
import { vaultPublicKeyFrom } from "./vault/vaultConfig.ts";

export { COMMAND_SETTINGS, DEFAULTS, type Need, SETTINGS, type SettingName } from "./settings.ts";

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
  /** The vault's recovery public key (§3b); null: the vault is off. Read only when `needs` has "vault". */
  readonly vault: RecoveryPublicKey | null;
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
  const vault = needs.has("vault") ? vaultPublicKeyFrom(env, flags, problems) : null;
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
  return Object.freeze({ ...(values as Omit<Config, "keyring" | "vault">), keyring, vault });
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
