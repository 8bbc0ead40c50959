// What the sink writes to the vault with a batch of rows (§3b): one sealed
// entry per distinct pseudonym of the batch, skipping pseudonyms this process
// has already seen committed (a bounded cache; the table's ON CONFLICT DO
// NOTHING covers the rest, e.g. pseudonyms vaulted by another instance).
import type { PiiField } from "../transform/mask.ts";
import { type LoginRow, PII_CANONICAL } from "../transform/toRow.ts";
import type { PlainValue, SealedEntry, Sealer, WrappedDataKey } from "./sealer.ts";

/** Pseudonyms remembered per field (about 150 bytes each). */
export const DEFAULT_VAULTED_CACHE_SIZE = 65_536;

export interface VaultBatch {
  readonly entries: readonly SealedEntry[];
  /** The data keys the entries use and no earlier commit stored, to store (idempotently) in the same transaction. */
  readonly dataKeys: readonly WrappedDataKey[];
}

export interface VaultWriter {
  entriesFor(rows: readonly LoginRow[]): VaultBatch;
  /** After the commit: these pseudonyms are in the vault now. */
  committed(batch: VaultBatch): void;
}

const COMMITTED = 0;

export function createVaultWriter(sealer: Sealer, cacheSize = DEFAULT_VAULTED_CACHE_SIZE): VaultWriter {
  // Per field (their pseudonyms come from different keys): pseudonym → COMMITTED, or
  // the number of the batch that sealed it last (not known to be stored yet). One
  // lookup per value: this runs for every row. Insertion-ordered: when full, the
  // oldest pseudonym is forgotten first.
  const seen: Record<PiiField, Map<string, number>> = { ip: new Map(), device_id: new Map() };
  const storedDataKeys = new Set<string>();
  let batchNumber = 0;
  return {
    entriesFor(rows) {
      const values: PlainValue[] = [];
      const batch = ++batchNumber;
      const consider = (field: PiiField, pseudonym: string, canonical: Buffer) => {
        const map = seen[field];
        const state = map.get(pseudonym);
        if (state === COMMITTED || state === batch) return;
        map.set(pseudonym, batch);
        values.push({ field, pseudonym, canonical });
      };
      for (const row of rows) {
        const canonical = row[PII_CANONICAL];
        if (!canonical) throw new Error("a row without its canonical bytes cannot be vaulted");
        consider("ip", row.masked_ip, canonical.ip);
        consider("device_id", row.masked_device_id, canonical.device_id);
      }
      const entries = sealer.sealAll(values);
      const ids = new Set<string>();
      for (const e of entries) if (!storedDataKeys.has(e.dataKeyId)) ids.add(e.dataKeyId);
      return { entries, dataKeys: [...ids].map((id) => sealer.dataKey(id)) };
    },
    committed(batch) {
      for (const key of batch.dataKeys) storedDataKeys.add(key.id);
      for (const entry of batch.entries) seen[entry.field].set(entry.pseudonym, COMMITTED);
      for (const map of [seen.ip, seen.device_id]) {
        // Also drops pseudonyms of batches that never committed: they are sealed again when they come back.
        while (map.size > cacheSize) map.delete(map.keys().next().value as string);
      }
    },
  };
}
