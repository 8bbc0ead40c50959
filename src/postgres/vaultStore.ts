// The vault's tables as the privacy officer's commands use them (unmask,
// forget, rekey): read sealed entries with their wrapped data keys, write the
// audit trail, delete entries, move rows to new pseudonyms.
import type pg from "pg";
import type { PiiField } from "../transform/mask.ts";
import type { SealedEntry, WrappedDataKey } from "../vault/sealer.ts";

export interface StoredEntry {
  readonly entry: SealedEntry;
  readonly dataKey: WrappedDataKey;
}

interface EntryRow {
  field: PiiField;
  pseudonym: string;
  data_key_id: string;
  nonce: Buffer;
  sealed: Buffer;
  recovery_kid: string;
  enc: Buffer;
  wrapped_key: Buffer;
}

const ENTRY_COLUMNS = `e.field, e.pseudonym, e.data_key_id, e.nonce, e.sealed, k.recovery_kid, k.enc, k.wrapped_key
  FROM login_etl_vault_entries e JOIN login_etl_vault_data_keys k ON k.id = e.data_key_id`;

const toStored = (r: EntryRow): StoredEntry => ({
  entry: {
    field: r.field,
    pseudonym: r.pseudonym,
    dataKeyId: r.data_key_id,
    nonce: r.nonce,
    sealed: r.sealed,
  },
  dataKey: { id: r.data_key_id, recoveryKid: r.recovery_kid, enc: r.enc, wrapped: r.wrapped_key },
});

export const COLUMN_OF: Record<PiiField, "masked_ip" | "masked_device_id"> = {
  ip: "masked_ip",
  device_id: "masked_device_id",
};

export async function fetchEntries(
  client: pg.ClientBase,
  field: PiiField,
  pseudonyms: readonly string[],
): Promise<Map<string, StoredEntry>> {
  const { rows } = await client.query<EntryRow>(
    `SELECT ${ENTRY_COLUMNS} WHERE e.field = $1 AND e.pseudonym = ANY($2::text[])`,
    [field, pseudonyms],
  );
  return new Map(rows.map((r) => [r.pseudonym, toStored(r)]));
}

/** The next entries of `field` not under pseudonyms starting with `keepPrefix`, locked for this transaction. */
export async function lockEntriesNotUnder(
  client: pg.ClientBase,
  field: PiiField,
  keepPrefix: string,
  limit: number,
): Promise<StoredEntry[]> {
  const { rows } = await client.query<EntryRow>(
    `SELECT ${ENTRY_COLUMNS} WHERE e.field = $1 AND NOT starts_with(e.pseudonym, $2)
      ORDER BY e.pseudonym LIMIT $3 FOR UPDATE OF e SKIP LOCKED`,
    [field, keepPrefix, limit],
  );
  return rows.map(toStored);
}

export interface AuditRecord {
  readonly osUser: string;
  readonly action: "unmask" | "forget" | "rekey";
  readonly field: PiiField | null;
  readonly pseudonym: string | null;
  readonly reason: string | null;
  readonly outcome: string;
}

/** The audit rows; the database fills in `at` and `db_user` (session_user). */
export async function writeAudit(client: pg.ClientBase, records: readonly AuditRecord[]): Promise<void> {
  await client.query(
    `INSERT INTO login_etl_vault_audit (os_user, action, field, pseudonym, reason, outcome)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])`,
    [
      records.map((r) => r.osUser),
      records.map((r) => r.action),
      records.map((r) => r.field),
      records.map((r) => r.pseudonym),
      records.map((r) => r.reason),
      records.map((r) => r.outcome),
    ],
  );
}

/** Deletes the entries; resolves to the pseudonyms that had one. */
export async function deleteEntries(
  client: pg.ClientBase,
  field: PiiField,
  pseudonyms: readonly string[],
): Promise<Set<string>> {
  const { rows } = await client.query<{ pseudonym: string }>(
    "DELETE FROM login_etl_vault_entries WHERE field = $1 AND pseudonym = ANY($2::text[]) RETURNING pseudonym",
    [field, pseudonyms],
  );
  return new Set(rows.map((r) => r.pseudonym));
}

export async function countRowsCarrying(
  client: pg.ClientBase,
  field: PiiField,
  pseudonyms: readonly string[],
): Promise<number> {
  const { rows } = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM user_logins WHERE ${COLUMN_OF[field]} = ANY($1::text[])`,
    [pseudonyms],
  );
  return rows[0]?.n ?? 0;
}

/** Rows of `field` whose pseudonym is not under `keepPrefix` (rekey's leftovers). */
export async function countRowsNotUnder(
  client: pg.ClientBase,
  field: PiiField,
  keepPrefix: string,
): Promise<number> {
  const column = COLUMN_OF[field];
  const { rows } = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM user_logins WHERE ${column} IS NOT NULL AND NOT starts_with(${column}, $1)`,
    [keepPrefix],
  );
  return rows[0]?.n ?? 0;
}

/** Rewrites `field`'s column from each old pseudonym to its new one; resolves to the rows changed. */
export async function movePseudonyms(
  client: pg.ClientBase,
  field: PiiField,
  moves: ReadonlyArray<{ from: string; to: string }>,
): Promise<number> {
  const column = COLUMN_OF[field];
  const res = await client.query(
    `UPDATE user_logins u SET ${column} = m.new_pseudonym
       FROM unnest($1::text[], $2::text[]) AS m(old_pseudonym, new_pseudonym)
      WHERE u.${column} = m.old_pseudonym`,
    [moves.map((m) => m.from), moves.map((m) => m.to)],
  );
  return res.rowCount ?? 0;
}
