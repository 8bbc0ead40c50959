// Scheme h1 (§3): HMAC-SHA256 under a per-field key derived with HKDF from the
// master key, over canonical bytes, so that equal addresses in any spelling
// give equal pseudonyms, and nobody without the key can test guesses.
import { createHmac, createSecretKey, hkdfSync, type KeyObject } from "node:crypto";
import { canonicalIpBytes } from "./ipAddress.ts";
import type { Keyring } from "./keyring.ts";

export type PiiField = "ip" | "device_id";
export const PII_FIELDS: readonly PiiField[] = ["ip", "device_id"];

const HKDF_SALT = "login-etl/pii";

export function deriveFieldKey(masterKey: Buffer, field: PiiField): Buffer {
  return Buffer.from(hkdfSync("sha256", masterKey, HKDF_SALT, `h1|${field}|v1`, 32));
}

export function canonicalDeviceIdBytes(value: string): Buffer {
  return Buffer.from(value.trim().normalize("NFC"), "utf8");
}

export interface Masker {
  readonly kid: string;
  /** The h1 pseudonym; null when `value` is not a valid value of `field` (validation rules that out first). */
  mask(field: PiiField, value: string): string | null;
  /** The h1 pseudonym of canonical bytes (§3), e.g. opened from the vault. */
  maskCanonical(field: PiiField, bytes: Buffer): string;
}

/** The canonical bytes of §3; null when `value` is not a valid value of `field`. */
export function canonicalBytes(field: PiiField, value: string): Buffer | null {
  return field === "ip" ? canonicalIpBytes(value) : canonicalDeviceIdBytes(value);
}

export function createMasker(keyring: Keyring): Masker {
  const master = keyring.keys.get(keyring.primary);
  if (!master) throw new Error("keyring primary names no key");
  // KeyObjects made once: createHmac with a raw Buffer key costs ~8x more per call.
  const keys: Record<PiiField, KeyObject> = {
    ip: createSecretKey(deriveFieldKey(master, "ip")),
    device_id: createSecretKey(deriveFieldKey(master, "device_id")),
  };
  const prefix = `h1.${keyring.primary}.`;
  const maskCanonical = (field: PiiField, bytes: Buffer) =>
    prefix + createHmac("sha256", keys[field]).update(bytes).digest("base64url");
  return {
    kid: keyring.primary,
    mask(field, value) {
      const bytes = canonicalBytes(field, value);
      return bytes ? maskCanonical(field, bytes) : null;
    },
    maskCanonical,
  };
}
