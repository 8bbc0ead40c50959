// The vault's tables (migration 003) as seen by the loader: it inserts wrapped
// data keys and sealed entries, idempotently, inside the transaction of the
// rows that use them. No target on ON CONFLICT: DO NOTHING without one needs
// only the INSERT privilege, so the loader role need not read the vault.
import type pg from "pg";
import type { VaultBatch } from "../vault/vaultWriter.ts";

const INSERT_DATA_KEYS = `INSERT INTO login_etl_vault_data_keys (id, recovery_kid, enc, wrapped_key)
  SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[]) ON CONFLICT DO NOTHING`;
const INSERT_ENTRIES = `INSERT INTO login_etl_vault_entries (field, pseudonym, data_key_id, nonce, sealed)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::bytea[]) ON CONFLICT DO NOTHING`;

export async function insertVaultBatch(client: pg.ClientBase, batch: VaultBatch): Promise<void> {
  const keys = batch.dataKeys;
  if (keys.length) {
    await client.query(INSERT_DATA_KEYS, [
      keys.map((k) => k.id),
      keys.map((k) => k.recoveryKid),
      keys.map((k) => k.enc),
      keys.map((k) => k.wrapped),
    ]);
  }
  const e = batch.entries;
  if (!e.length) return;
  await client.query(INSERT_ENTRIES, [
    e.map((x) => x.field),
    e.map((x) => x.pseudonym),
    e.map((x) => x.dataKeyId),
    e.map((x) => x.nonce),
    e.map((x) => x.sealed),
  ]);
}
