// Synthetic login events shaped like real traffic (DESIGN.md §1): UUID user
// ids, ios/android, IPv4 (some IPv6), ~30 % null locale, N.N / N.N.N versions,
// repeated ip/device_id values at a chosen ratio, and malformed bodies at a
// chosen ratio. Seeded, so a run can be repeated exactly.

export interface SampleOptions {
  readonly count: number;
  /** Share of events that reuse an ip and device_id seen earlier (0..1). */
  readonly duplicateRatio: number;
  /** Share of bodies that are malformed (0..1). */
  readonly malformedRatio: number;
  readonly seed: number;
}

/** mulberry32: tiny, fast, good enough for test data. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LOCALES = ["RU", "US", "DE", "FR", "IN", "BR", "JP", "PL", "ES", "GB"];
const VERSIONS = ["2.3.0", "0.96", "2.00", "1.8.0", "3.1", "0.2.14", "5.0.1", "2.10", "1.0.0"];
export const MALFORMED_BODIES = [
  '{"foo": "oops_wrong_msg_type", "bar": "123"}',
  "not json at all",
  "[1, 2, 3]",
  '{"user_id": "x", "device_type": "ios", "ip": "300.1.2.3", "device_id": "d", "app_version": "1.0"}',
  '{"user_id": "", "device_type": "ios", "ip": "10.0.0.1", "device_id": "d", "app_version": "1.0"}',
];

export function* sampleBodies(options: SampleOptions): Generator<string> {
  const random = seededRandom(options.seed);
  const int = (n: number) => Math.floor(random() * n);
  const hex = (n: number) => Array.from({ length: n }, () => int(16).toString(16)).join("");
  const seen: Array<{ ip: string; device_id: string }> = [];
  let malformed = 0;
  for (let i = 0; i < options.count; i++) {
    if (random() < options.malformedRatio) {
      yield MALFORMED_BODIES[malformed++ % MALFORMED_BODIES.length] as string;
      continue;
    }
    let pii = seen.length && random() < options.duplicateRatio ? seen[int(seen.length)] : undefined;
    if (!pii) {
      const ip =
        random() < 0.05
          ? `2001:db8:${hex(4)}::${hex(3)}`
          : `${1 + int(223)}.${int(256)}.${int(256)}.${1 + int(254)}`;
      const device_id = `${100 + int(900)}-${10 + int(90)}-${1000 + int(9000)}`;
      pii = { ip, device_id };
      if (seen.length < 10_000) seen.push(pii);
    }
    const locale = random() < 0.3 ? null : (LOCALES[int(LOCALES.length)] as string);
    yield JSON.stringify({
      user_id: `${hex(8)}-${hex(4)}-4${hex(3)}-${"89ab"[int(4)]}${hex(3)}-${hex(12)}`,
      app_version: VERSIONS[int(VERSIONS.length)],
      device_type: random() < 0.5 ? "android" : "ios",
      ip: pii.ip,
      locale,
      device_id: pii.device_id,
    });
  }
}
