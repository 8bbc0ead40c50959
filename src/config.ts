// Environment + flags → one validated, frozen Config. Every problem is
// reported at once, each naming the setting and what was expected; no value of
// a secret setting is ever echoed.
import { readFileSync, statSync } from "node:fs";
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
  readonly maxInFlightBytes: number;
  readonly writers: number;
  /** null: the command's own default (20 for run, 1 for drain). */
  readonly waitTimeSeconds: number | null;
  readonly shutdownTimeoutMs: number;
  readonly maxHoldSeconds: number;
  /** run: /livez fails when the loop has not moved for this long; null: three long polls plus 30 s. */
  readonly stallSeconds: number | null;
  readonly httpPort: number;
  readonly httpHost: string;
  readonly logLevel: string;
  readonly keyring: Keyring | null;
  /** Problems that do not stop the start, for the command to log (a keyring file other users may read). */
  readonly warnings: readonly string[];
  /** The vault's recovery public key (§3b); null: the vault is off. Read only when `needs` has "vault". */
  readonly vault: RecoveryPublicKey | null;
}

export type Flags = Record<string, unknown>;
export type Env = Record<string, string | undefined>;

/**
 * A keyring file is a secret: other users must not read or change it. It is
 * warned about loudly rather than refused, because common ways of handing it
 * over (a shell redirect under umask 022, a Secret mounted for an fsGroup)
 * make it readable by more than its owner without anyone meaning harm.
 */
function checkKeyringFileMode(file: string, warnings: string[]): void {
  let mode: number;
  try {
    mode = statSync(file).mode & 0o777;
  } catch {
    return; // reading it reports the problem
  }
  if ((mode & 0o077) === 0) return;
  const octal = mode.toString(8).padStart(3, "0");
  const who = mode & 0o007 ? "every user on this machine" : "its group";
  warnings.push(
    `PII_KEYRING_FILE: ${file} has mode ${octal}, so ${who} may read${mode & 0o022 ? " or change" : ""} the masking keys; expected mode 600 or 400 (\`chmod 600 ${file}\`; \`login-etl keygen --out FILE\` writes it so)`,
  );
}

function keyringFrom(env: Env, flags: Flags, problems: string[], warnings: string[]): Keyring | null {
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
    checkKeyringFileMode(file, warnings);
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
  const warnings: string[] = [];
  const keyring =
    needs.has("keyring") || flags.keyringFile ? keyringFrom(env, flags, problems, warnings) : null;
  const vault = needs.has("vault") ? vaultPublicKeyFrom(env, flags, problems) : null;
  // Each poller reserves room for a full receive before it polls: less room than that starves pollers.
  const pollers = values.pollers as number | null;
  const maxInFlight = values.maxInFlight as number | null;
  if (pollers && maxInFlight && maxInFlight < pollers * 10) {
    problems.push(
      `LOGIN_ETL_MAX_IN_FLIGHT (--max-in-flight): expected at least 10 per poller (${pollers * 10} for ${pollers} pollers)`,
    );
  }
  // Plain http carries bodies (PII) unprotected; only an emulator set as the endpoint may use it.
  const endpointInvalid = problems.some((p) => p.startsWith(SETTINGS.endpointUrl.env));
  if (!values.endpointUrl && !endpointInvalid) {
    for (const name of ["queueUrl", "dlqUrl"] as const) {
      const url = values[name];
      if (typeof url === "string" && url.startsWith("http://")) {
        problems.push(
          `${SETTINGS[name].env} (--${kebab(SETTINGS[name].flag)}): plain http:// is allowed only with SQS_ENDPOINT_URL set (a local emulator); expected an https:// queue URL`,
        );
      }
    }
  }
  const searchPath = typeof values.databaseUrl === "string" ? searchPathOf(values.databaseUrl) : null;
  if (searchPath !== null && searchPath !== values.dbSchema) {
    problems.push(
      `DATABASE_URL: its options set search_path to ${JSON.stringify(searchPath)}, but LOGIN_ETL_DB_SCHEMA is ${JSON.stringify(values.dbSchema)} (migrations would go to one schema and rows to another); expected search_path left out of DATABASE_URL, with LOGIN_ETL_DB_SCHEMA naming the schema`,
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
  return Object.freeze({
    ...(values as Omit<Config, "keyring" | "vault" | "warnings">),
    keyring,
    vault,
    warnings: Object.freeze(warnings),
  });
}

/** The first schema of a search_path set in a postgres URL's `options` (libpq's -c search_path=…), else null. */
export function searchPathOf(databaseUrl: string): string | null {
  let options: string | null = null;
  try {
    options = new URL(databaseUrl).searchParams.get("options");
  } catch {
    return null;
  }
  const match = options && /(?:^|\s)(?:-c\s*|--)search_path\s*=\s*("[^"]*"|[^,\s]+)/i.exec(options);
  if (!match?.[1]) return null;
  const first = match[1];
  return first.startsWith('"') ? first.slice(1, -1) : first.toLowerCase();
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
