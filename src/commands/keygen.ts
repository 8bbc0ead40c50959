// `login-etl keygen`: a new keyring with one random 32-byte key, for
// PII_KEYRING_FILE. The key exists only in the output: store it as a secret.
import { randomBytes } from "node:crypto";
import { EtlError } from "../errors.ts";
import { type CommandContext, print } from "./context.ts";

export async function keygenCommand(ctx: CommandContext, kid: string): Promise<number> {
  if (!/^[a-z0-9-]{1,16}$/.test(kid)) throw new EtlError("USAGE_INVALID", "--kid: expected [a-z0-9-]{1,16}");
  print(
    ctx.stdout,
    JSON.stringify({ primary: kid, keys: [{ kid, key: randomBytes(32).toString("base64") }] }),
  );
  return 0;
}
