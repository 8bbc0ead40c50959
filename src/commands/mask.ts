// `login-etl mask --field ip|device_id VALUE`: the pseudonym an analyst needs to
// find the rows of one address or device. Needs only the keyring.
import { COMMAND_SETTINGS, type Flags, loadConfig } from "../config.ts";
import { EtlError } from "../errors.ts";
import { canonicalIpBytes } from "../transform/ipAddress.ts";
import { isValidDeviceId } from "../transform/loginEvent.ts";
import { createMasker, PII_FIELDS, type PiiField } from "../transform/mask.ts";
import { type CommandContext, print } from "./context.ts";

export async function maskCommand(
  ctx: CommandContext,
  field: string,
  value: string,
  flags: Flags,
): Promise<number> {
  if (!PII_FIELDS.includes(field as PiiField)) {
    throw new EtlError("USAGE_INVALID", `--field: expected one of ${PII_FIELDS.join(", ")}`);
  }
  const config = loadConfig(ctx.env, flags, new Set(["keyring"]), COMMAND_SETTINGS.mask);
  for (const warning of config.warnings) print(ctx.stderr, `login-etl: warning: ${warning}`);
  const masker = createMasker(config.keyring as NonNullable<typeof config.keyring>);
  // The same rules as for a message, so the CLI never prints a pseudonym the pipeline would not store.
  const valid = field === "ip" ? canonicalIpBytes(value) !== null : isValidDeviceId(value);
  if (!valid) {
    const expected =
      field === "ip"
        ? "one IPv4 or IPv6 address"
        : "1 to 256 characters after trimming, without control characters";
    throw new EtlError("USAGE_INVALID", `VALUE: not a valid ${field}; expected ${expected}`);
  }
  print(ctx.stdout, masker.mask(field as PiiField, value) ?? "");
  return 0;
}
