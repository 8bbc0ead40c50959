// `login-etl migrate`: apply the migrations and say what changed.
import { COMMAND_SETTINGS, type Flags, loadConfig } from "../config.ts";
import { createLogger } from "../ops/logger.ts";
import { migrate } from "../postgres/migrations.ts";
import { createPool } from "../postgres/postgresPool.ts";
import { type CommandContext, print } from "./context.ts";

export async function migrateCommand(ctx: CommandContext, flags: Flags): Promise<number> {
  const config = loadConfig(ctx.env, flags, new Set(["database"]), COMMAND_SETTINGS.migrate);
  const log = createLogger(config.logLevel);
  const pool = createPool(
    { databaseUrl: config.databaseUrl as string, schema: config.dbSchema, poolSize: 1 },
    log,
  );
  try {
    const applied = await migrate(pool, config.dbSchema, { always: true });
    print(
      ctx.stdout,
      applied.length
        ? `applied ${applied.map((m) => `${String(m.version).padStart(3, "0")}_${m.name}`).join(", ")}`
        : "schema is up to date",
    );
    return 0;
  } finally {
    await pool.end();
  }
}
