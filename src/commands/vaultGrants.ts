// `login-etl vault-grants --loader R --analyst R --officer R`: prints the SQL
// that gives three existing roles their share of the vault (src/vault/grants.ts).
// It only prints: the DBA reviews it and runs it with psql.
import { EtlError } from "../errors.ts";
import { vaultGrants } from "../postgres/vaultGrants.ts";
import { type CommandContext, print } from "./context.ts";

const NAME = /^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/;

export async function vaultGrantsCommand(
  ctx: CommandContext,
  flags: Record<string, unknown>,
): Promise<number> {
  const names: Record<string, string> = {};
  for (const option of ["loader", "analyst", "officer", "dbSchema"] as const) {
    const value = String(
      flags[option] ?? (option === "dbSchema" ? (ctx.env.LOGIN_ETL_DB_SCHEMA ?? "public") : ""),
    );
    if (!NAME.test(value)) {
      const flag = option === "dbSchema" ? "db-schema" : option;
      throw new EtlError("USAGE_INVALID", `--${flag}: expected a role or schema name`);
    }
    names[option] = value;
  }
  print(
    ctx.stdout,
    vaultGrants({
      schema: names.dbSchema as string,
      loader: names.loader as string,
      analyst: names.analyst as string,
      officer: names.officer as string,
    }),
  );
  return 0;
}
