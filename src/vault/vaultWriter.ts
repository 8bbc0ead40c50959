// What the sink writes to the vault with a batch of rows (§3b): one sealed
// entry per distinct pseudonym of the batch, skipping pseudonyms this process
// has already seen committed (a bounded cache; the table's ON CONFLICT DO
// NOTHING covers the rest, e.g. pseudonyms vaulted by another instance).
import type { PiiField } from "../transform/mask.ts";
import { type LoginRow, PII_CANONICAL } from "../transform/toRow.ts";
import type { SealedEntry, Sealer, WrappedDataKey } from "./sealer.ts";

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

const FIELD_COLUMN: ReadonlyArray<[PiiField, "masked_ip" | "masked_device_id"]> = [
  ["ip", "masked_ip"],
  ["device_id", "masked_device_id"],
];

export function createVaultWriter(sealer: Sealer, cacheSize = DEFAULT_VAULTED_CACHE_SIZE): VaultWriter {
  // Insertion-ordered: when full, the oldest pseudonym is forgotten first.
  const vaulted = new Set<string>();
  const storedDataKeys = new Set<string>();
  return {
    entriesFor(rows) {
      const entries: SealedEntry[] = [];
      const inBatch = new Set<string>();
      for (const row of rows) {
        const canonical = row[PII_CANONICAL];
        if (!canonical) throw new Error("a row without its canonical bytes cannot be vaulted");
        for (const [field, column] of FIELD_COLUMN) {
          const pseudonym = row[column];
          // Pseudonyms of the two fields come from different keys; the prefix only keeps the sets apart.
          const cacheKey = field === "ip" ? `i${pseudonym}` : `d${pseudonym}`;
          if (vaulted.has(cacheKey) || inBatch.has(cacheKey)) continue;
          inBatch.add(cacheKey);
          entries.push(sealer.seal(field, pseudonym, canonical[field]));
        }
      }
      const ids = new Set(entries.map((e) => e.dataKeyId).filter((id) => !storedDataKeys.has(id)));
      return { entries, dataKeys: [...ids].map((id) => sealer.dataKey(id)) };
    },
    committed(batch) {
      for (const key of batch.dataKeys) storedDataKeys.add(key.id);
      for (const entry of batch.entries) {
        const cacheKey = entry.field === "ip" ? `i${entry.pseudonym}` : `d${entry.pseudonym}`;
        vaulted.delete(cacheKey);
        vaulted.add(cacheKey);
        if (vaulted.size > cacheSize) {
          const oldest = vaulted.values().next().value as string;
          vaulted.delete(oldest);
        }
      }
    },
  };
}
