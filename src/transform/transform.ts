// decode → validate → mask → row, for one delivery: the pipeline's Transform,
// built once from the keyring (the masker's keys are KeyObjects made here).
import type { Delivery, Outcome } from "../pipeline/contracts.ts";
import type { Keyring } from "./keyring.ts";
import { decodeLoginEvent } from "./loginEvent.ts";
import { createMasker } from "./mask.ts";
import { toRow } from "./toRow.ts";

/** `forVault`: rows keep their canonical PII bytes for the vault to seal (§3b). */
export function createLoginTransform(keyring: Keyring, forVault = false): (delivery: Delivery) => Outcome {
  const masker = createMasker(keyring);
  return (delivery) => {
    const decoded = decodeLoginEvent(delivery.body);
    if ("rejection" in decoded) return decoded;
    return { row: toRow(decoded, delivery.messageId, delivery.sentAtMs, masker, forVault) };
  };
}
