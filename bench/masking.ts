// 6. Masking cost: login-etl's createMasker on the two PII fields of each
// message (ip and device_id), per message; and, for the CPU budget, the whole
// transform (JSON decode, validation, both masks, row) per message.
import { randomUUID } from "node:crypto";
import { sampleBodies } from "../src/local/sampleEvents.ts";
import type { Delivery } from "../src/pipeline/contracts.ts";
import type { Etl } from "./etl.ts";
import type { BenchSettings } from "./settings.ts";
import { type Spread, spread } from "./stats.ts";

export interface MaskingResult {
  /** µs per message for mask(ip) + mask(device_id). */
  readonly maskUs: Spread;
  /** µs per message for createTransform's decode → validate → mask → row. */
  readonly transformUs: Spread;
}

const EVENTS = 20_000;
const PASSES = 5;

function timePerItemUs(items: number, work: () => void): number {
  const started = performance.now();
  work();
  return ((performance.now() - started) * 1000) / items;
}

export function measureMasking(etl: Etl, settings: BenchSettings, keyringJson: string): MaskingResult {
  const parsed = etl.keyring.parseKeyring(keyringJson);
  if (!("keyring" in parsed)) throw new Error("bench keyring did not parse");
  const masker = etl.mask.createMasker(parsed.keyring);
  const bodies = [
    ...sampleBodies({
      count: EVENTS,
      malformedRatio: settings.malformedRatio,
      duplicateRatio: settings.duplicateRatio,
      seed: settings.seed,
    }),
  ];
  const pii: Array<{ ip: string; device_id: string }> = [];
  for (const body of bodies) {
    try {
      const v = JSON.parse(body) as { ip?: unknown; device_id?: unknown };
      if (typeof v.ip === "string" && typeof v.device_id === "string" && masker.mask("ip", v.ip))
        pii.push({ ip: v.ip, device_id: v.device_id });
    } catch {
      // a malformed body: not maskable input
    }
  }
  const config = etl.config.loadConfig({ PII_KEYRING: keyringJson }, {}, new Set(["keyring"]));
  const transform = etl.app.createTransform(config);
  const now = Date.now();
  const deliveries: Delivery[] = bodies.map((body) => ({
    messageId: randomUUID(),
    body,
    bytes: body.length,
    sentAtMs: now,
    receiveCount: 1,
    receivedAtMs: now,
    handle: "h",
  }));

  let sink = 0;
  const maskAll = () => {
    for (let pass = 0; pass < PASSES; pass++) {
      for (const p of pii)
        sink += (masker.mask("ip", p.ip)?.length ?? 0) + (masker.mask("device_id", p.device_id)?.length ?? 0);
    }
  };
  const transformAll = () => {
    for (let pass = 0; pass < PASSES; pass++)
      for (const d of deliveries) sink += "row" in transform(d) ? 1 : 0;
  };
  // Warm-up: let the JIT settle before anything counts.
  maskAll();
  transformAll();
  const maskUs: number[] = [];
  const transformUs: number[] = [];
  for (let r = 0; r < settings.repeat; r++) {
    maskUs.push(timePerItemUs(pii.length * PASSES, maskAll));
    transformUs.push(timePerItemUs(deliveries.length * PASSES, transformAll));
  }
  if (sink === 0) throw new Error("masking produced nothing");
  return { maskUs: spread(maskUs), transformUs: spread(transformUs) };
}
