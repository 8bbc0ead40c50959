// `login-etl rekey`: after the masking keyring's primary changed, moves the
// rows and vault entries still under older kids to the primary, through the
// vault (§3b): each old entry is opened, its value masked with the primary
// key, the rows rewritten and the entry re-sealed under the new pseudonym, in
// one transaction per batch. A killed rekey resumes by itself: what is left
// is exactly the entries still under an old kid. Loaders may run meanwhile:
// they write under the primary already, and SKIP LOCKED keeps two rekeys apart.
// Rows whose value is not in the vault (forgotten, or loaded without it) stay.
import { COMMAND_SETTINGS, type Flags, loadConfig } from "../config.ts";
import { EtlError } from "../errors.ts";
import { createLogger } from "../ops/logger.ts";
import { createProblems } from "../ops/problems.ts";
import { withClient } from "../postgres/postgresPool.ts";
import {
  countRowsNotUnder,
  deleteEntries,
  lockEntriesNotUnder,
  movePseudonyms,
  writeAudit,
} from "../postgres/vaultStore.ts";
import { insertVaultBatch } from "../postgres/vaultTables.ts";
import { createMasker, PII_FIELDS, type PiiField } from "../transform/mask.ts";
import { createOpener, VaultOpenError } from "../vault/opener.ts";
import { createSealer, type PlainValue, reportSealerFallback } from "../vault/sealer.ts";
import { type CommandContext, print } from "./context.ts";
import { loadPrivateKey, officerPool, osUser } from "./vaultAccess.ts";

export async function rekeyCommand(ctx: CommandContext, flags: Flags): Promise<number> {
  const batchSize = Number(flags.batchSize ?? 500);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    throw new EtlError("USAGE_INVALID", "--batch-size: expected a whole number from 1 to 10000");
  }
  const config = loadConfig(ctx.env, flags, new Set(["database", "keyring"]), COMMAND_SETTINGS.rekey);
  const recovery = loadPrivateKey(ctx.env, flags);
  const keyring = config.keyring as NonNullable<typeof config.keyring>;
  const log = createLogger(config.logLevel);
  const masker = createMasker(keyring);
  const prefix = `h1.${keyring.primary}.`;
  const opener = createOpener(recovery);
  // Re-sealed under a data key of this run, to the same recovery key.
  const sealer = createSealer(
    { kid: recovery.kid, publicKey: recovery.publicKey },
    { onFallback: reportSealerFallback(createProblems(log, null)) },
  );
  const stored = new Set<string>();
  const pool = officerPool(config);
  const user = osUser(ctx.env);
  const totals = { entries: 0, rows: 0 } as Record<"entries" | "rows", number>;
  const left: Record<PiiField, number> = { ip: 0, device_id: 0 };
  /** One audit row for the run as a whole (its start and its end). */
  const audit = (outcome: string) =>
    withClient(pool, "rekey audit", (client) =>
      writeAudit(client, [
        { osUser: user, action: "rekey", field: null, pseudonym: null, reason: null, outcome },
      ]),
    );
  try {
    await audit(`started: to ${keyring.primary}`);
    for (const field of PII_FIELDS) {
      for (;;) {
        const moved = await withClient(pool, "rekey batch", async (client) => {
          await client.query("BEGIN");
          try {
            const batch = await lockEntriesNotUnder(client, field, prefix, batchSize);
            if (!batch.length) {
              await client.query("COMMIT");
              return null;
            }
            const values: PlainValue[] = [];
            const moves = batch.map(({ entry, dataKey }) => {
              let value: Buffer;
              try {
                value = opener.open(entry, dataKey);
              } catch (err) {
                if (!(err instanceof VaultOpenError)) throw err;
                throw new EtlError(
                  err.failure === "wrong_key" ? "VAULT_WRONG_KEY" : "VAULT_TAMPERED",
                  `rekey stopped at ${field} ${entry.pseudonym}: ${err.message} (batches before it are done; run again once it is dealt with)`,
                  { retryable: false },
                );
              }
              const to = masker.maskCanonical(field, value);
              values.push({ field, pseudonym: to, canonical: value });
              return { from: entry.pseudonym, to };
            });
            const entries = sealer.sealAll(values);
            const rows = await movePseudonyms(client, field, moves);
            const dataKeys = [...new Set(entries.map((e) => e.dataKeyId))]
              .filter((id) => !stored.has(id))
              .map((id) => sealer.dataKey(id));
            await insertVaultBatch(client, { entries, dataKeys });
            await deleteEntries(
              client,
              field,
              moves.map((m) => m.from),
            );
            await client.query("COMMIT");
            for (const k of dataKeys) stored.add(k.id);
            return { entries: moves.length, rows };
          } catch (err) {
            await client.query("ROLLBACK").catch(() => {});
            throw err;
          }
        });
        if (!moved) break;
        totals.entries += moved.entries;
        totals.rows += moved.rows;
        log.info({ field, entries: moved.entries, rows: moved.rows }, "rekey batch committed");
      }
      left[field] = await withClient(pool, "rekey count", (client) =>
        countRowsNotUnder(client, field, prefix),
      );
    }
    const summary = {
      primary: keyring.primary,
      entries_moved: totals.entries,
      rows_moved: totals.rows,
      rows_left_ip: left.ip,
      rows_left_device_id: left.device_id,
    };
    await audit(
      `done: ${totals.entries} entries, ${totals.rows} rows; left ${left.ip} ip, ${left.device_id} device_id`,
    );
    if (flags.json) print(ctx.stdout, JSON.stringify(summary));
    else {
      print(
        ctx.stdout,
        `rekeyed to ${keyring.primary}: ${totals.entries} vault entries, ${totals.rows} row updates`,
      );
      print(
        ctx.stdout,
        `rows still under an older kid (value not in the vault): ${left.ip} by masked_ip, ${left.device_id} by masked_device_id`,
      );
    }
    return 0;
  } finally {
    await pool.end();
  }
}
