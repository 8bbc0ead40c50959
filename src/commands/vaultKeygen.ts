// `login-etl vault-keygen --out FILE [--kid K]`: a new recovery key pair (§3b).
// The private key goes to FILE only (mode 0600, never over an existing file);
// the public key, for PII_VAULT_PUBLIC_KEY(_FILE), is printed.
import { EtlError } from "../errors.ts";
import { newRecoveryKeyPair, RECOVERY_KID } from "../vault/keys.ts";
import { type CommandContext, print } from "./context.ts";
import { writeSecretFile } from "./secretFile.ts";

export async function vaultKeygenCommand(ctx: CommandContext, out: string, kid: string): Promise<number> {
  if (!RECOVERY_KID.test(kid)) throw new EtlError("USAGE_INVALID", "--kid: expected [a-z0-9-]{1,16}");
  const { privateJson, publicJson } = newRecoveryKeyPair(kid);
  // A lost private key must never be silently replaced.
  writeSecretFile(out, privateJson, { option: "--out", existsCode: "VAULT_KEY_EXISTS" });
  print(ctx.stdout, publicJson);
  ctx.stderr.write(
    `login-etl: private key written to ${out} (mode 0600): keep it offline or in a KMS, never beside the loader\n`,
  );
  return 0;
}
