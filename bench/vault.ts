// 6b. The PII vault's CPU cost (user + system time) per message on top of the transform (§3b): the
// sink's VaultWriter sealing the batch's new pseudonyms (AES-256-GCM under a
// data key wrapped once with HPKE), with nothing vaulted yet (the worst case:
// every distinct pseudonym sealed), in batches of the configured size. For
// comparison, one HPKE single-shot seal per value, which is what sealing each
// value straight to the recovery key would cost.
import { createSecretKey, randomBytes } from "node:crypto";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { sampleBodies } from "../src/local/sampleEvents.ts";
import type { Delivery } from "../src/pipeline/contracts.ts";
import type { LoginRow } from "../src/transform/toRow.ts";
import type * as Gcm from "../src/vault/gcm.ts";
import type * as Hpke from "../src/vault/hpke.ts";
import type * as Keys from "../src/vault/keys.ts";
import type * as Sealer from "../src/vault/sealer.ts";
import type * as Writer from "../src/vault/vaultWriter.ts";
import type { Etl } from "./etl.ts";
import type { BenchSettings } from "./settings.ts";
import { type Spread, spread } from "./stats.ts";

export interface VaultResult {
  /** µs per message for VaultWriter.entriesFor + committed (both fields sealed when new). */
  readonly vaultUs: Spread;
  /** Values sealed per message in that run (≤ 2). */
  readonly sealsPerMessage: number;
  /** µs for one HPKE single-shot seal (X25519, HKDF-SHA256, AES-256-GCM) of one value. */
  readonly hpkePerValueUs: Spread;
  /** µs per value for AES-256-GCM alone, batched as the loader seals and with one node:crypto cipher per value. */
  readonly gcmPerValueUs?: { readonly batched: Spread; readonly perValue: Spread };
}

const EVENTS = 20_000;
const HPKE_VALUES = 2_000;

async function loadVault(root: string) {
  const load = async <T>(file: string): Promise<T> =>
    (await import(pathToFileURL(path.join(root, "src", "vault", file)).href)) as T;
  try {
    return {
      gcm: await load<Partial<typeof Gcm>>("gcm.ts"),
      hpke: await load<typeof Hpke>("hpke.ts"),
      keys: await load<typeof Keys>("keys.ts"),
      sealer: await load<typeof Sealer>("sealer.ts"),
      writer: await load<typeof Writer>("vaultWriter.ts"),
    };
  } catch {
    return null; // a checkout without the vault
  }
}

/** CPU time (user + system), not wall time: on a shared machine the wall clock also counts waiting. */
const timeUs = (items: number, work: () => void) => {
  const started = process.cpuUsage();
  work();
  const used = process.cpuUsage(started);
  return (used.user + used.system) / items;
};

export async function measureVault(
  etl: Etl,
  settings: BenchSettings,
  keyringJson: string,
  batchSize: number,
): Promise<VaultResult | null> {
  const vault = await loadVault(settings.etlRoot);
  if (!vault) return null;
  const pair = vault.keys.newRecoveryKeyPair("bench");
  const pub = vault.keys.parsePublicKey(pair.publicJson);
  if (!("key" in pub)) throw new Error("bench recovery key did not parse");
  // The vault on, so that rows keep the canonical bytes it seals.
  const config = etl.config.loadConfig(
    { PII_KEYRING: keyringJson, PII_VAULT_PUBLIC_KEY: pair.publicJson },
    {},
    new Set(["keyring", "vault"]),
  );
  const transform = etl.app.createTransform(config);
  const now = Date.now();
  const rows: LoginRow[] = [];
  const bodies = sampleBodies({
    count: EVENTS,
    malformedRatio: 0,
    duplicateRatio: settings.duplicateRatio,
    seed: settings.seed,
  });
  // For AES-256-GCM alone: each row's two values (canonical bytes under their aad), in row order.
  const gcmInputsOf: Gcm.GcmInput[][] = [];
  for (const body of bodies) {
    const delivery: Delivery = {
      messageId: "m",
      body,
      bytes: body.length,
      sentAtMs: now,
      receiveCount: 1,
      receivedAtMs: now,
      handle: "h",
    };
    const outcome = transform(delivery);
    if ("row" in outcome) {
      rows.push(outcome.row);
      const raw = JSON.parse(body) as Record<"ip" | "device_id", string>;
      const pseudonyms = { ip: outcome.row.masked_ip, device_id: outcome.row.masked_device_id };
      gcmInputsOf.push(
        (["ip", "device_id"] as const).map((field) => ({
          nonce: randomBytes(12),
          aad: Buffer.from(`v1|${field}|${pseudonyms[field]}`),
          plaintext: etl.mask.canonicalBytes(field, raw[field]) ?? Buffer.alloc(0),
        })),
      );
    }
  }
  const batches: LoginRow[][] = [];
  const gcmBatches: Gcm.GcmInput[][] = [];
  for (let i = 0; i < rows.length; i += batchSize) {
    batches.push(rows.slice(i, i + batchSize));
    gcmBatches.push(gcmInputsOf.slice(i, i + batchSize).flat());
  }
  const sealer = vault.sealer.createSealer(pub.key);
  let seals = 0;
  const sealAll = () => {
    // A fresh writer: nothing vaulted yet, as after a process start.
    const writer = vault.writer.createVaultWriter(sealer);
    for (const batch of batches) {
      const b = writer.entriesFor(batch);
      seals += b.entries.length;
      writer.committed(b);
    }
  };
  const values = rows.slice(0, HPKE_VALUES).map((r) => r.masked_ip);
  const sealEach = () => {
    for (const v of values)
      vault.hpke.sealBase(
        pub.key.publicKey,
        Buffer.from("login-etl/vault/v1"),
        Buffer.from(v),
        Buffer.alloc(16),
      );
  };
  // AES-256-GCM alone on the same values, in batches as the sink gives them.
  const { createBatchedGcmSealer, createPerValueGcmSealer } = vault.gcm;
  const key = createSecretKey(randomBytes(32));
  const gcmValues = gcmBatches.reduce((n, b) => n + b.length, 0);
  const sealWith = (sealer: Gcm.GcmSealer | undefined) => () => {
    for (const b of gcmBatches) sealer?.sealAll(b);
  };
  const batched = sealWith(createBatchedGcmSealer?.(key));
  const perValue = sealWith(createPerValueGcmSealer?.(key));
  // Twice: the first run also collects the garbage of the phases before it.
  sealAll();
  sealAll();
  seals = 0;
  const vaultUs: number[] = [];
  const hpkeUs: number[] = [];
  const batchedUs: number[] = [];
  const perValueUs: number[] = [];
  // Each measure's repetitions together: the garbage of one (node:crypto's cipher
  // objects above all) is then mostly collected within its own runs.
  for (let r = 0; r < settings.repeat; r++) vaultUs.push(timeUs(rows.length, sealAll));
  sealEach();
  for (let r = 0; r < settings.repeat; r++) hpkeUs.push(timeUs(values.length, sealEach));
  batched();
  for (let r = 0; r < settings.repeat; r++) batchedUs.push(timeUs(gcmValues, batched));
  perValue();
  for (let r = 0; r < settings.repeat; r++) perValueUs.push(timeUs(gcmValues, perValue));
  return {
    vaultUs: spread(vaultUs),
    sealsPerMessage: seals / (rows.length * settings.repeat),
    hpkePerValueUs: spread(hpkeUs),
    ...(createBatchedGcmSealer && createPerValueGcmSealer
      ? { gcmPerValueUs: { batched: spread(batchedUs), perValue: spread(perValueUs) } }
      : {}),
  };
}
