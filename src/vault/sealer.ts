// The loader's side of the vault (§3b): envelope encryption. A random 32-byte
// data key is wrapped once to the recovery public key with HPKE (the costly
// step, ~0.4 ms), then each value is sealed with AES-256-GCM under it, a batch
// at a time (a few µs a value). The unwrapped data key lives only in this
// process's memory.
import { createSecretKey, randomBytes, randomFillSync, randomUUID } from "node:crypto";
import type { Problems } from "../ops/problems.ts";
import type { PiiField } from "../transform/mask.ts";
import { type CheckedGcmSealer, createGcmSealer, type GcmImplementation, type GcmInput } from "./gcm.ts";
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

export interface PlainValue {
  readonly field: PiiField;
  readonly pseudonym: string;
  /** The canonical bytes of §3. */
  readonly canonical: Buffer;
}

export interface Sealer {
  /** One entry per value, in order. */
  sealAll(values: readonly PlainValue[]): SealedEntry[];
  /** How the current data key seals (gcm.ts): batched unless that failed its self-check. */
  readonly implementation: GcmImplementation;
  /** Every data key this sealer has made (normally one): the sink stores the ones a batch uses. */
  dataKey(id: string): WrappedDataKey;
}

interface LiveDataKey {
  readonly wrapped: WrappedDataKey;
  /** AES-256-GCM under the data key. */
  readonly gcm: CheckedGcmSealer;
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

/** What a fallback costs, in the words of the log line and of `check`. */
export const PER_VALUE_SEALING = "one value at a time (correct, about 3x the CPU)";

/** onFallback for a loader or a command: one line and errors_total{stage="vault", code="VAULT_SEALER_FALLBACK"}. */
export const reportSealerFallback = (problems: Problems) => () =>
  problems.report(
    "vault",
    "VAULT_SEALER_FALLBACK",
    {},
    `the batched AES-256-GCM sealing disagreed with node:crypto's; this data key seals ${PER_VALUE_SEALING} from now on`,
  );

export interface SealerOptions {
  readonly maxValuesPerKey?: number;
  /** The batched AES-256-GCM gave other bytes than node:crypto's under a data key, which now seals per value (gcm.ts). */
  readonly onFallback?: () => void;
}

export function createSealer(recovery: RecoveryPublicKey, options: SealerOptions = {}): Sealer {
  const { maxValuesPerKey = MAX_VALUES_PER_DATA_KEY, onFallback } = options;
  if (!Number.isInteger(maxValuesPerKey) || maxValuesPerKey < 1)
    throw new Error("maxValuesPerKey must be a whole number ≥ 1");
  const made = new Map<string, WrappedDataKey>();
  const fresh = (): LiveDataKey => {
    const raw = randomBytes(32);
    const wrapped = wrapDataKey(recovery, raw);
    made.set(wrapped.id, wrapped);
    const live = { wrapped, gcm: createGcmSealer(createSecretKey(raw), { onFallback }), used: 0 };
    raw.fill(0);
    return live;
  };
  let current = fresh();
  const nextNonce = nonceSource();
  return {
    sealAll(values) {
      const entries: SealedEntry[] = [];
      let from = 0;
      while (from < values.length) {
        if (current.used >= maxValuesPerKey) current = fresh();
        const take = values.slice(from, from + maxValuesPerKey - current.used);
        current.used += take.length;
        from += take.length;
        const inputs = take.map((v) => ({
          nonce: nextNonce(),
          aad: entryAad(v.field, v.pseudonym),
          plaintext: v.canonical,
        }));
        const sealed = current.gcm.sealAll(inputs);
        const dataKeyId = current.wrapped.id;
        for (let i = 0; i < take.length; i++) {
          const { field, pseudonym } = take[i] as PlainValue;
          const { nonce } = inputs[i] as GcmInput;
          entries.push({ field, pseudonym, dataKeyId, nonce, sealed: sealed[i] as Buffer });
        }
      }
      return entries;
    },
    get implementation() {
      return current.gcm.implementation;
    },
    dataKey(id) {
      const key = made.get(id);
      if (!key) throw new Error("unknown data key id");
      return key;
    },
  };
}
