// What the sink writes to the vault with a batch of rows (§3b): one sealed
// entry per distinct pseudonym of the batch, skipping pseudonyms this process
// has already seen committed (a bounded cache; the table's ON CONFLICT DO
// NOTHING covers the rest, e.g. pseudonyms vaulted by another instance).
import type { PiiField } from "../transform/mask.ts";
import { type LoginRow, PII_CANONICAL } from "../transform/toRow.ts";
import type { SealedEntry, Sealer, WrappedDataKey } from "./sealer.ts";

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

export function createVaultWriter(sealer: Sealer, cacheSize = DEFAULT_VAULTED_CACHE_SIZE): VaultWriter {
  // Per field (their pseudonyms come from different keys), insertion-ordered:
  // when full, the oldest pseudonym is forgotten first.
  const vaulted: Record<PiiField, Set<string>> = { ip: new Set(), device_id: new Set() };
  const storedDataKeys = new Set<string>();
  return {
    entriesFor(rows) {
      const entries: SealedEntry[] = [];
      const inBatch: Record<PiiField, Set<string>> = { ip: new Set(), device_id: new Set() };
      const consider = (field: PiiField, pseudonym: string, canonical: Buffer) => {
        if (vaulted[field].has(pseudonym) || inBatch[field].has(pseudonym)) return;
        inBatch[field].add(pseudonym);
        entries.push(sealer.seal(field, pseudonym, canonical));
      };
      for (const row of rows) {
        const canonical = row[PII_CANONICAL];
        if (!canonical) throw new Error("a row without its canonical bytes cannot be vaulted");
        consider("ip", row.masked_ip, canonical.ip);
        consider("device_id", row.masked_device_id, canonical.device_id);
      }
      const ids = new Set<string>();
      for (const e of entries) if (!storedDataKeys.has(e.dataKeyId)) ids.add(e.dataKeyId);
      return { entries, dataKeys: [...ids].map((id) => sealer.dataKey(id)) };
    },
    committed(batch) {
      for (const key of batch.dataKeys) storedDataKeys.add(key.id);
      for (const entry of batch.entries) {
        const set = vaulted[entry.field];
        if (set.has(entry.pseudonym)) continue;
        set.add(entry.pseudonym);
        if (set.size > cacheSize) set.delete(set.values().next().value as string);
      }
    },
  };
}
