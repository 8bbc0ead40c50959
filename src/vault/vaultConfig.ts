// The loader's vault setting (§3b): the recovery public key from
// PII_VAULT_PUBLIC_KEY_FILE (a path; the flag --vault-public-key-file wins) or
// PII_VAULT_PUBLIC_KEY (the JSON). Unset: the vault is off. The loader must
// never hold the private key, so one given anywhere in its settings is refused.
import { readFileSync } from "node:fs";
import { parsePublicKey, type RecoveryPublicKey } from "./keys.ts";

type Env = Record<string, string | undefined>;

export function vaultPublicKeyFrom(
  env: Env,
  flags: Record<string, unknown>,
  problems: string[],
): RecoveryPublicKey | null {
  if (env.PII_VAULT_PRIVATE_KEY_FILE) {
    problems.push(
      "PII_VAULT_PRIVATE_KEY_FILE: set in the loader's environment; expected it unset (only `unmask` and `rekey` take the private key; the loader holds the public key only)",
    );
  }
  const flagFile = flags.vaultPublicKeyFile as string | undefined;
  const file = flagFile ?? env.PII_VAULT_PUBLIC_KEY_FILE;
  const inline = flagFile ? undefined : env.PII_VAULT_PUBLIC_KEY;
  if (file && inline) {
    problems.push(
      "PII_VAULT_PUBLIC_KEY_FILE and PII_VAULT_PUBLIC_KEY: both are set; expected at most one of them",
    );
    return null;
  }
  if (!file && !inline) return null;
  const setting = file ? "PII_VAULT_PUBLIC_KEY_FILE" : "PII_VAULT_PUBLIC_KEY";
  let text = inline ?? "";
  if (file) {
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      problems.push(
        `PII_VAULT_PUBLIC_KEY_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? "error"}); expected a readable public key file`,
      );
      return null;
    }
  }
  const parsed = parsePublicKey(text);
  if ("problems" in parsed) {
    for (const p of parsed.problems) problems.push(`${setting}: ${p}`);
    return null;
  }
  return parsed.key;
}
