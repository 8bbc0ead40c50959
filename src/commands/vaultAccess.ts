// What the privacy officer's commands (unmask, forget, rekey) share: the
// private key from --private-key-file or PII_VAULT_PRIVATE_KEY_FILE, the OS
// user for the audit trail, the field argument, and a database pool.
import { readFileSync } from "node:fs";
import os from "node:os";
import type pg from "pg";
import type { Config, Env, Flags } from "../config.ts";
import { EtlError } from "../errors.ts";
import { createLogger } from "../ops/logger.ts";
import { createPool } from "../postgres/postgresPool.ts";
import { PII_FIELDS, type PiiField } from "../transform/mask.ts";
import { parsePrivateKey, type RecoveryPrivateKey } from "../vault/keys.ts";

export function loadPrivateKey(env: Env, flags: Flags): RecoveryPrivateKey {
  const file = (flags.privateKeyFile as string | undefined) ?? env.PII_VAULT_PRIVATE_KEY_FILE;
  const setting = flags.privateKeyFile ? "--private-key-file" : "PII_VAULT_PRIVATE_KEY_FILE";
  if (!file) {
    throw new EtlError(
      "CONFIG_INVALID",
      'invalid configuration:\n  - PII_VAULT_PRIVATE_KEY_FILE (--private-key-file): required; expected the recovery private key file {"kid", "private_key"} that `login-etl vault-keygen --out` wrote',
    );
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new EtlError(
      "CONFIG_INVALID",
      `invalid configuration:\n  - ${setting}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? "error"}); expected a readable private key file`,
    );
  }
  const parsed = parsePrivateKey(text);
  if ("problems" in parsed) {
    throw new EtlError(
      "CONFIG_INVALID",
      `invalid configuration:\n  - ${parsed.problems.map((p) => `${setting}: ${p}`).join("\n  - ")}`,
    );
  }
  return parsed.key;
}

export function parseField(field: unknown): PiiField {
  if (!PII_FIELDS.includes(field as PiiField)) {
    throw new EtlError("USAGE_INVALID", `--field: expected one of ${PII_FIELDS.join(", ")}`);
  }
  return field as PiiField;
}

/** Who runs the command, for the audit trail (a container may have no passwd entry). */
export function osUser(env: Env): string {
  try {
    return os.userInfo().username;
  } catch {
    return env.USER ?? env.LOGNAME ?? `uid ${process.getuid?.() ?? "unknown"}`;
  }
}

export function officerPool(config: Config): pg.Pool {
  return createPool(
    { databaseUrl: config.databaseUrl as string, schema: config.dbSchema, poolSize: 1 },
    createLogger("silent"),
  );
}
