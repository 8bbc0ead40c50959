// `login-etl forget --field F VALUE` or `forget --field F --pseudonym P`:
// crypto-erasure (§3b). Deletes the sealed copy of the value, so that it is
// held nowhere any more; the rows keep their pseudonym, which the keyring can
// still recompute from the value but nothing can turn back into it.
import { COMMAND_SETTINGS, type Flags, loadConfig } from "../config.ts";
import { EtlError } from "../errors.ts";
import { withClient } from "../postgres/postgresPool.ts";
import { countRowsCarrying, deleteEntries, writeAudit } from "../postgres/vaultStore.ts";
import { canonicalBytes, createMasker } from "../transform/mask.ts";
import { type CommandContext, print } from "./context.ts";
import { officerPool, osUser, parseField } from "./vaultAccess.ts";

export async function forgetCommand(
  ctx: CommandContext,
  value: string | undefined,
  flags: Flags,
): Promise<number> {
  const field = parseField(flags.field);
  const given = flags.pseudonym as string | undefined;
  if ((value === undefined) === (given === undefined)) {
    throw new EtlError(
      "USAGE_INVALID",
      "forget: expected either VALUE or --pseudonym P, not both or neither",
    );
  }
  const config = loadConfig(
    ctx.env,
    flags,
    new Set(value === undefined ? ["database"] : ["database", "keyring"]),
    COMMAND_SETTINGS.forget,
  );
  let pseudonyms: string[];
  if (value !== undefined) {
    const bytes = canonicalBytes(field, value);
    if (!bytes || bytes.length === 0) throw new EtlError("USAGE_INVALID", `VALUE: not a valid ${field}`);
    // Under every key of the keyring: a value loaded before a rotation has a pseudonym per kid.
    const keyring = config.keyring as NonNullable<typeof config.keyring>;
    pseudonyms = [...keyring.keys.keys()].map((kid) =>
      createMasker(keyringWithPrimary(keyring, kid)).maskCanonical(field, bytes),
    );
  } else {
    pseudonyms = [given as string];
  }
  const reason = flags.reason === undefined ? null : String(flags.reason);
  const pool = officerPool(config);
  try {
    const { deleted, rows } = await withClient(pool, "forget", async (client) => {
      await client.query("BEGIN");
      try {
        const gone = await deleteEntries(client, field, pseudonyms);
        await writeAudit(
          client,
          pseudonyms.map((p) => ({
            osUser: osUser(ctx.env),
            action: "forget",
            field,
            pseudonym: p,
            reason,
            outcome: gone.has(p) ? "deleted" : "not_found",
          })),
        );
        await client.query("COMMIT");
        return { deleted: gone, rows: await countRowsCarrying(client, field, pseudonyms) };
      } catch (err) {
        await client.query("ROLLBACK").catch(() => {});
        throw err;
      }
    });
    const result = { field, pseudonyms, deleted: deleted.size, rows_still_carrying: rows };
    if (flags.json) print(ctx.stdout, JSON.stringify(result));
    else {
      print(
        ctx.stdout,
        deleted.size
          ? `forgot ${deleted.size} vault entr${deleted.size === 1 ? "y" : "ies"} of ${field} (${[...deleted].join(", ")}): the value is held nowhere now`
          : `no vault entry for ${field} ${pseudonyms.join(", ")}: nothing to forget`,
      );
      print(
        ctx.stdout,
        `${rows} row(s) in user_logins still carry the pseudonym; a new message with the same value is sealed again`,
      );
    }
    return 0;
  } finally {
    await pool.end();
  }
}

function keyringWithPrimary<K extends { primary: string }>(keyring: K, kid: string): K {
  return { ...keyring, primary: kid };
}
