// `login-etl vault-keygen --out FILE [--kid K]`: a new recovery key pair (§3b).
// The private key goes to FILE only (mode 0600, never over an existing file);
// the public key, for PII_VAULT_PUBLIC_KEY(_FILE), is printed.
import { closeSync, fchmodSync, openSync, writeSync } from "node:fs";
import { EtlError } from "../errors.ts";
import { newRecoveryKeyPair, RECOVERY_KID } from "../vault/keys.ts";
import { type CommandContext, print } from "./context.ts";

export async function vaultKeygenCommand(ctx: CommandContext, out: string, kid: string): Promise<number> {
  if (!RECOVERY_KID.test(kid)) throw new EtlError("USAGE_INVALID", "--kid: expected [a-z0-9-]{1,16}");
  const { privateJson, publicJson } = newRecoveryKeyPair(kid);
  let fd: number;
  try {
    // "wx": fail if it exists, so that a lost private key is never silently replaced.
    fd = openSync(out, "wx", 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    if (code === "EEXIST") {
      throw new EtlError(
        "VAULT_KEY_EXISTS",
        `--out: ${out} already exists; expected a new file (nothing was written)`,
      );
    }
    throw new EtlError("USAGE_INVALID", `--out: cannot create ${out} (${code})`);
  }
  try {
    fchmodSync(fd, 0o600); // whatever the umask
    writeSync(fd, privateJson);
  } finally {
    closeSync(fd);
  }
  print(ctx.stdout, publicJson);
  ctx.stderr.write(
    `login-etl: private key written to ${out} (mode 0600): keep it offline or in a KMS, never beside the loader\n`,
  );
  return 0;
}
