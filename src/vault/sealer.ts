// The loader's side of the vault (§3b): envelope encryption. A random 32-byte
// data key is wrapped once to the recovery public key with HPKE (the costly
// step, ~0.4 ms), then each value is sealed with AES-256-GCM under it (a few
// µs). The unwrapped data key lives only in this process's memory.
import { createSecretKey, randomBytes, randomFillSync, randomUUID } from "node:crypto";
import type { PiiField } from "../transform/mask.ts";
import { createGcmSealer, type GcmSealer } from "./gcm.ts";
import { sealBase } from "./hpke.ts";
import type { RecoveryPublicKey } from "./keys.ts";

export const VAULT_INFO = Buffer.from("login-etl/vault/v1");
/** §3b: a new data key after at most 2^24 values (random 96-bit nonces stay far from collision). */
export const MAX_VALUES_PER_DATA_KEY = 2 ** 24;
const NONCE_BYTES = 12;

export interface WrappedDataKey {
  readonly id: string;
  /** The kid of the recovery key it is wrapped to. */
  readonly recoveryKid: string;
  /** HPKE encapsulated key and ciphertext (with tag) of the 32-byte data key. */
  readonly enc: Buffer;
  readonly wrapped: Buffer;
}

export interface SealedEntry {
  readonly field: PiiField;
  readonly pseudonym: string;
  readonly dataKeyId: string;
  readonly nonce: Buffer;
  /** AES-256-GCM ciphertext followed by the 16-byte tag. */
  readonly sealed: Buffer;
}

/** The aad of a sealed value: binds it to its field and pseudonym, so it cannot be moved. */
export const entryAad = (field: PiiField, pseudonym: string) => Buffer.from(`v1|${field}|${pseudonym}`);

/** The aad of a wrapped data key: its id. */
export const dataKeyAad = (id: string) => Buffer.from(id);

export interface Sealer {
  seal(field: PiiField, pseudonym: string, canonical: Buffer): SealedEntry;
  /** Every data key this sealer has made (normally one): the sink stores the ones a batch uses. */
  dataKey(id: string): WrappedDataKey;
}

interface LiveDataKey {
  readonly wrapped: WrappedDataKey;
  /** AES-256-GCM under the data key (node:crypto). */
  readonly gcm: GcmSealer;
  used: number;
}

export function wrapDataKey(recovery: RecoveryPublicKey, dataKey: Buffer, id = randomUUID()): WrappedDataKey {
  const { enc, ct } = sealBase(recovery.publicKey, VAULT_INFO, dataKeyAad(id), dataKey);
  return { id, recoveryKid: recovery.kid, enc, wrapped: ct };
}

/**
 * Random 96-bit nonces, drawn from the CSPRNG 4096 at a time: one randomBytes
 * call per value costs ~3 µs of CPU, as much as the AES-GCM seal itself.
 */
function nonceSource(): () => Buffer {
  let pool = Buffer.alloc(0);
  let offset = 0;
  return () => {
    if (offset >= pool.length) {
      // A new pool each time: the nonces handed out earlier are slices of the old one.
      pool = randomFillSync(Buffer.allocUnsafe(NONCE_BYTES * 4096));
      offset = 0;
    }
    offset += NONCE_BYTES;
    return pool.subarray(offset - NONCE_BYTES, offset);
  };
}

export function createSealer(recovery: RecoveryPublicKey, maxValuesPerKey = MAX_VALUES_PER_DATA_KEY): Sealer {
  const made = new Map<string, WrappedDataKey>();
  const fresh = (): LiveDataKey => {
    const raw = randomBytes(32);
    const wrapped = wrapDataKey(recovery, raw);
    made.set(wrapped.id, wrapped);
    const live = { wrapped, gcm: createGcmSealer(createSecretKey(raw)), used: 0 };
    raw.fill(0);
    return live;
  };
  let current = fresh();
  const nextNonce = nonceSource();
  return {
    seal(field, pseudonym, canonical) {
      if (current.used >= maxValuesPerKey) current = fresh();
      current.used++;
      const nonce = nextNonce();
      const sealed = current.gcm.seal(nonce, entryAad(field, pseudonym), canonical);
      return { field, pseudonym, dataKeyId: current.wrapped.id, nonce, sealed };
    },
    dataKey(id) {
      const key = made.get(id);
      if (!key) throw new Error("unknown data key id");
      return key;
    },
  };
}
