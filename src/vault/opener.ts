// The privacy officer's side of the vault (§3b): unwraps data keys with the
// offline recovery private key and opens sealed values. Every failure is one
// of a few clear kinds, never a crypto library's message.
import { createDecipheriv } from "node:crypto";
import { openBase } from "./hpke.ts";
import type { RecoveryPrivateKey } from "./keys.ts";
import { dataKeyAad, entryAad, type SealedEntry, VAULT_INFO, type WrappedDataKey } from "./sealer.ts";

export type OpenFailure = "wrong_key" | "tampered";

export class VaultOpenError extends Error {
  readonly failure: OpenFailure;
  constructor(failure: OpenFailure, message: string) {
    super(message);
    this.name = "VaultOpenError";
    this.failure = failure;
  }
}

export interface Opener {
  /** The canonical bytes sealed in `entry`; throws VaultOpenError. */
  open(entry: SealedEntry, dataKey: WrappedDataKey): Buffer;
}

export function createOpener(recovery: RecoveryPrivateKey): Opener {
  const unwrapped = new Map<string, Buffer>();
  const unwrap = (dataKey: WrappedDataKey): Buffer => {
    const cached = unwrapped.get(dataKey.id);
    if (cached) return cached;
    if (dataKey.recoveryKid !== recovery.kid) {
      throw new VaultOpenError(
        "wrong_key",
        `the value was sealed to recovery key "${dataKey.recoveryKid}", and the private key given is "${recovery.kid}"`,
      );
    }
    let key: Buffer;
    try {
      key = openBase(
        recovery.privateKey,
        { enc: dataKey.enc, ct: dataKey.wrapped },
        VAULT_INFO,
        dataKeyAad(dataKey.id),
      );
    } catch {
      throw new VaultOpenError(
        "wrong_key",
        `the private key does not open data key ${dataKey.id}: it is not the private half of recovery key "${dataKey.recoveryKid}", or the wrapped data key was altered`,
      );
    }
    unwrapped.set(dataKey.id, key);
    return key;
  };
  return {
    open(entry, dataKey) {
      const key = unwrap(dataKey);
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, entry.nonce, { authTagLength: 16 });
        decipher.setAAD(entryAad(entry.field, entry.pseudonym));
        decipher.setAuthTag(entry.sealed.subarray(entry.sealed.length - 16));
        return Buffer.concat([
          decipher.update(entry.sealed.subarray(0, entry.sealed.length - 16)),
          decipher.final(),
        ]);
      } catch {
        throw new VaultOpenError(
          "tampered",
          "the sealed value does not open for this field and pseudonym: it was altered or moved from another pseudonym",
        );
      }
    },
  };
}
