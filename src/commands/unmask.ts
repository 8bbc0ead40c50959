// `login-etl unmask --field F --reason TEXT PSEUDONYM… | -`: the values behind
// pseudonyms, for a lawful request (§3b). Every pseudonym is opened in memory
// first, then one audit row each (who, when, field, pseudonym, reason,
// outcome) is committed, and only then is anything printed. All or nothing: a
// pseudonym that does not open (unknown, forgotten, wrong key, tampered or
// moved) fails the whole request, exit 1, no value printed.
import { COMMAND_SETTINGS, type Flags, loadConfig } from "../config.ts";
import { EtlError } from "../errors.ts";
import { withClient } from "../postgres/postgresPool.ts";
import { fetchEntries, writeAudit } from "../postgres/vaultStore.ts";
import type { PiiField } from "../transform/mask.ts";
import { createOpener, VaultOpenError } from "../vault/opener.ts";
import { renderValue } from "../vault/render.ts";
import { type CommandContext, print } from "./context.ts";
import { loadPrivateKey, officerPool, osUser, parseField } from "./vaultAccess.ts";

type Outcome = { pseudonym: string; value: string } | { pseudonym: string; failure: string; message: string };

const MAX_REASON = 1000;

async function readStdinLines(): Promise<string[]> {
  let text = "";
  for await (const chunk of process.stdin) text += chunk;
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
}

export async function unmaskCommand(ctx: CommandContext, args: string[], flags: Flags): Promise<number> {
  const field = parseField(flags.field);
  const reason = String(flags.reason ?? "").trim();
  if (!reason || reason.length > MAX_REASON) {
    throw new EtlError(
      "USAGE_INVALID",
      `--reason: expected why, 1 to ${MAX_REASON} characters (it is audited)`,
    );
  }
  const pseudonyms = [...new Set(args.length === 1 && args[0] === "-" ? await readStdinLines() : args)];
  if (!pseudonyms.length)
    throw new EtlError("USAGE_INVALID", "PSEUDONYM: expected at least one (or - for stdin)");
  const config = loadConfig(ctx.env, flags, new Set(["database"]), COMMAND_SETTINGS.unmask);
  const recovery = loadPrivateKey(ctx.env, flags);
  const pool = officerPool(config);
  try {
    const outcomes = await withClient(pool, "unmask", async (client) => {
      const stored = await fetchEntries(client, field, pseudonyms);
      const opener = createOpener(recovery);
      const results: Outcome[] = pseudonyms.map((pseudonym) => {
        const found = stored.get(pseudonym);
        if (!found) {
          return {
            pseudonym,
            failure: "not_found",
            message: "no vault entry: unknown, forgotten, or loaded without the vault",
          };
        }
        try {
          return { pseudonym, value: renderValue(field, opener.open(found.entry, found.dataKey)) };
        } catch (err) {
          if (!(err instanceof VaultOpenError)) throw err;
          return { pseudonym, failure: err.failure, message: err.message };
        }
      });
      try {
        await writeAudit(
          client,
          results.map((r) => ({
            osUser: osUser(ctx.env),
            action: "unmask",
            field,
            pseudonym: r.pseudonym,
            reason,
            outcome: "value" in r ? "disclosed" : r.failure,
          })),
        );
      } catch (err) {
        throw new EtlError(
          "VAULT_AUDIT_FAILED",
          "the audit row could not be written, so nothing is shown (the role needs INSERT on login_etl_vault_audit)",
          { cause: err, context: { causeCode: (err as { code?: string }).code ?? "unknown" } },
        );
      }
      return results;
    });
    const failed = outcomes.filter((o): o is Extract<Outcome, { failure: string }> => "failure" in o);
    if (failed.length) throw failure(field, failed);
    const values = outcomes as Array<{ pseudonym: string; value: string }>;
    if (flags.json) print(ctx.stdout, JSON.stringify(values.map((v) => ({ field, ...v }))));
    else if (values.length === 1) print(ctx.stdout, values[0]?.value);
    else for (const v of values) print(ctx.stdout, `${v.pseudonym}\t${v.value}`);
    return 0;
  } finally {
    await pool.end();
  }
}

function failure(field: PiiField, failed: Array<{ pseudonym: string; failure: string; message: string }>) {
  const first = failed[0] as (typeof failed)[number];
  const code =
    first.failure === "not_found"
      ? "VAULT_NOT_FOUND"
      : first.failure === "wrong_key"
        ? "VAULT_WRONG_KEY"
        : "VAULT_TAMPERED";
  const lines = failed.map((f) => `${f.pseudonym}: ${f.message}`);
  return new EtlError(
    code,
    `cannot unmask ${failed.length} ${field} pseudonym(s), so nothing is shown (audited):\n  - ${lines.join("\n  - ")}`,
  );
}
