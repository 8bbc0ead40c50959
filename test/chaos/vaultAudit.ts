// The vault's half of a fault campaign's audit (§3b): rows and sealed entries
// are committed together, so after any crash every pseudonym of a row has its
// entry, every entry has a row, and the entries open (with the recovery
// private key) to the value whose pseudonym they are stored under.
import { readFileSync } from "node:fs";
import type pg from "pg";
import { COLUMN_OF, fetchEntries } from "../../src/postgres/vaultStore.ts";
import { parseKeyring } from "../../src/transform/keyring.ts";
import { createMasker, PII_FIELDS } from "../../src/transform/mask.ts";
import { parsePrivateKey } from "../../src/vault/keys.ts";
import { createOpener } from "../../src/vault/opener.ts";
import { TEST_KEYRING } from "../helpers/stack.ts";

export interface VaultAudit {
  readonly entries: number;
  readonly dataKeys: number;
  /** Pseudonyms in user_logins without an entry: must be 0. */
  readonly rowsWithoutEntry: number;
  /** Entries whose pseudonym no row carries: must be 0. */
  readonly entriesWithoutRow: number;
  /** Entries opened and re-masked in the sample, and those that did not match: must be 0. */
  readonly sampled: number;
  readonly sampleMismatches: number;
}

export async function auditVault(db: pg.Pool, privateKeyFile: string, sample = 200): Promise<VaultAudit> {
  const parsedKey = parsePrivateKey(readFileSync(privateKeyFile, "utf8"));
  const parsedRing = parseKeyring(TEST_KEYRING);
  if (!("key" in parsedKey) || !("keyring" in parsedRing)) throw new Error("test keys did not parse");
  const opener = createOpener(parsedKey.key);
  const masker = createMasker(parsedRing.keyring);
  const one = async (sql: string) => (await db.query<{ n: number }>(sql)).rows[0]?.n ?? 0;
  let rowsWithoutEntry = 0;
  let entriesWithoutRow = 0;
  let sampled = 0;
  let sampleMismatches = 0;
  for (const field of PII_FIELDS) {
    const column = COLUMN_OF[field];
    rowsWithoutEntry += await one(
      `SELECT count(*)::int AS n FROM (SELECT DISTINCT ${column} AS p FROM user_logins) d
        WHERE NOT EXISTS (SELECT 1 FROM login_etl_vault_entries e WHERE e.field = '${field}' AND e.pseudonym = d.p)`,
    );
    entriesWithoutRow += await one(
      `SELECT count(*)::int AS n FROM login_etl_vault_entries e
        WHERE e.field = '${field}' AND NOT EXISTS (SELECT 1 FROM user_logins u WHERE u.${column} = e.pseudonym)`,
    );
    const { rows } = await db.query<{ pseudonym: string }>(
      `SELECT pseudonym FROM login_etl_vault_entries WHERE field = $1 ORDER BY random() LIMIT $2`,
      [field, sample],
    );
    const client = await db.connect();
    try {
      const stored = await fetchEntries(
        client,
        field,
        rows.map((r) => r.pseudonym),
      );
      for (const { entry, dataKey } of stored.values()) {
        sampled++;
        if (masker.maskCanonical(field, opener.open(entry, dataKey)) !== entry.pseudonym) sampleMismatches++;
      }
    } finally {
      client.release();
    }
  }
  return {
    entries: await one("SELECT count(*)::int AS n FROM login_etl_vault_entries"),
    dataKeys: await one("SELECT count(*)::int AS n FROM login_etl_vault_data_keys"),
    rowsWithoutEntry,
    entriesWithoutRow,
    sampled,
    sampleMismatches,
  };
}
