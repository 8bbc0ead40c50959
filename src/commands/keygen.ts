// `login-etl keygen`: a new keyring with one random 32-byte key, for
// PII_KEYRING_FILE. The key exists only in the output: store it as a secret.
// With --out it goes to a new file of mode 600, never through a terminal or a
// shell redirect (which would leave it readable under the usual umask).
import { randomBytes } from "node:crypto";
import { EtlError } from "../errors.ts";
import { type CommandContext, print } from "./context.ts";
import { writeSecretFile } from "./secretFile.ts";

export async function keygenCommand(ctx: CommandContext, kid: string, out?: string): Promise<number> {
  if (!/^[a-z0-9-]{1,16}$/.test(kid)) throw new EtlError("USAGE_INVALID", "--kid: expected [a-z0-9-]{1,16}");
  const keyring = JSON.stringify({ primary: kid, keys: [{ kid, key: randomBytes(32).toString("base64") }] });
  if (!out) {
    print(ctx.stdout, keyring);
    return 0;
  }
  writeSecretFile(out, `${keyring}\n`, { option: "--out" });
  print(ctx.stderr, `wrote a keyring with key ${kid} to ${out} (mode 600); point PII_KEYRING_FILE at it`);
  return 0;
}
