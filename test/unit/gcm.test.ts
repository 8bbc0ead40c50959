import { createCipheriv, createSecretKey, type KeyObject, randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import {
  createBatchedGcmSealer,
  createGcmSealer,
  createPerValueGcmSealer,
  type GcmInput,
  type GcmSealer,
} from "../../src/vault/gcm.ts";

/** node:crypto's aes-256-gcm, written out here as the oracle. */
function openssl(key: Buffer, { nonce, aad, plaintext }: GcmInput): Buffer {
  const c = createCipheriv("aes-256-gcm", key, nonce);
  c.setAAD(aad);
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
}

const hex = (s: string) => Buffer.from(s, "hex");

// McGrew and Viega, "The Galois/Counter Mode of Operation", test cases 13 to 16 (AES-256, 96-bit IV).
const NIST_KEY = hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
const NIST_IV = hex("cafebabefacedbaddecaf888");
const NIST_P = hex(
  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
);
const NIST_C =
  "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad";
const VECTORS: { name: string; key: Buffer; input: GcmInput; out: string }[] = [
  {
    name: "13 (zero key, nothing to seal)",
    key: Buffer.alloc(32),
    input: { nonce: Buffer.alloc(12), aad: Buffer.alloc(0), plaintext: Buffer.alloc(0) },
    out: "530f8afbc74536b9a963b4f1c4cb738b",
  },
  {
    name: "14 (zero key, one zero block)",
    key: Buffer.alloc(32),
    input: { nonce: Buffer.alloc(12), aad: Buffer.alloc(0), plaintext: Buffer.alloc(16) },
    out: "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919",
  },
  {
    name: "15 (four blocks)",
    key: NIST_KEY,
    input: { nonce: NIST_IV, aad: Buffer.alloc(0), plaintext: NIST_P },
    out: `${NIST_C}b094dac5d93471bdec1a502270e3cc6c`,
  },
  {
    name: "16 (aad of 20 bytes, plaintext of 60)",
    key: NIST_KEY,
    input: {
      nonce: NIST_IV,
      aad: hex("feedfacedeadbeeffeedfacedeadbeefabaddad2"),
      plaintext: NIST_P.subarray(0, 60),
    },
    out: `${NIST_C.slice(0, 120)}76fc6ece0f4e1768cddf8853bb2d551b`,
  },
];

const IMPLEMENTATIONS: [string, (key: KeyObject) => GcmSealer][] = [
  ["batched (OpenSSL AES, GHASH here)", createBatchedGcmSealer],
  ["per value (node:crypto aes-256-gcm)", createPerValueGcmSealer],
];

/** Random inputs with aad and plaintext up to the given sizes. */
const inputUpTo = (aad: number, plaintext: number) =>
  fc.record({
    nonce: fc.uint8Array({ minLength: 12, maxLength: 12 }).map((b) => Buffer.from(b)),
    aad: fc.uint8Array({ maxLength: aad }).map((b) => Buffer.from(b)),
    plaintext: fc.uint8Array({ maxLength: plaintext }).map((b) => Buffer.from(b)),
  });

describe.each(IMPLEMENTATIONS)("the vault's AES-256-GCM sealer, %s", (_name, create) => {
  /** Random batches under random keys give OpenSSL's bytes for every value. */
  const agreesWithOpenssl = (input: fc.Arbitrary<GcmInput>, batch: number, numRuns: number) =>
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.array(input, { maxLength: batch }),
        (k, inputs) => {
          const key = Buffer.from(k);
          expect(create(createSecretKey(key)).sealAll(inputs)).toEqual(inputs.map((i) => openssl(key, i)));
        },
      ),
      { numRuns },
    );

  it.each(VECTORS)("gives the published test case $name", ({ key, input, out }) => {
    expect(create(createSecretKey(key)).sealAll([input])[0]?.toString("hex")).toBe(out);
  });

  it("gives OpenSSL's aes-256-gcm bytes for every value of random batches under random keys", () => {
    agreesWithOpenssl(inputUpTo(100, 300), 12, 300);
  });

  it("gives OpenSSL's bytes for long random values too (aad up to 300 bytes, plaintext up to 2,000: up to 8 GHASH chunks)", () => {
    agreesWithOpenssl(inputUpTo(300, 2000), 4, 60);
  });

  it("keeps giving the right bytes over many batches under one key, at every aad and plaintext length", () => {
    const key = randomBytes(32);
    const sealer = create(createSecretKey(key));
    for (let batch = 0; batch < 20; batch++) {
      const inputs = Array.from({ length: 50 }, (_, i) => ({
        nonce: randomBytes(12),
        aad: Buffer.from(`v1|ip|h1.k1.${"x".repeat((batch * 50 + i) % 80)}`),
        plaintext: randomBytes((batch * 50 + i) % 260),
      }));
      expect(sealer.sealAll(inputs)).toEqual(inputs.map((i) => openssl(key, i)));
    }
  });

  it("gives the right bytes on each side of every GHASH chunk boundary, up to the longest device_id (1,024 bytes)", () => {
    const key = randomBytes(32);
    const sealer = create(createSecretKey(key));
    // Blocks hashed = aad blocks + plaintext blocks + 1: 15 to 17, 31 to 33, 47 to 49, then 70.
    const shapes = [14, 15, 16, 30, 31, 32, 46, 47, 48].flatMap((blocks) => [
      { aad: 16, plaintext: (blocks - 1) * 16 },
      { aad: 61, plaintext: (blocks - 4) * 16 - 5 },
    ]);
    shapes.push({ aad: 76, plaintext: 1024 });
    const inputs = shapes.map(({ aad, plaintext }) => ({
      nonce: randomBytes(12),
      aad: randomBytes(aad),
      plaintext: randomBytes(plaintext),
    }));
    expect(sealer.sealAll(inputs)).toEqual(inputs.map((i) => openssl(key, i)));
  });

  it("refuses a nonce that is not 12 bytes and a key that is not 32", () => {
    const sealer = create(createSecretKey(randomBytes(32)));
    expect(() =>
      sealer.sealAll([{ nonce: Buffer.alloc(16), aad: Buffer.alloc(0), plaintext: Buffer.alloc(1) }]),
    ).toThrow(/12 bytes/);
    expect(() => create(createSecretKey(randomBytes(16)))).toThrow(/32-byte key/);
  });
});

describe("the checked sealer a data key gets", () => {
  const one = () => ({
    nonce: randomBytes(12),
    aad: Buffer.from("v1|ip|h1.k1.p"),
    plaintext: randomBytes(16),
  });
  /** The batched sealer with one tag bit flipped in every output. */
  const alwaysWrong = (k: KeyObject): GcmSealer => {
    const inner = createBatchedGcmSealer(k);
    return {
      sealAll: (inputs) =>
        inner.sealAll(inputs).map((out) => {
          out[out.length - 1] = (out[out.length - 1] as number) ^ 1;
          return out;
        }),
    };
  };

  it("seals batched when the batched sealer gives OpenSSL's bytes, and never falls back", () => {
    const key = randomBytes(32);
    const onFallback = vi.fn();
    const sealer = createGcmSealer(createSecretKey(key), { onFallback });
    const inputs = Array.from({ length: 30 }, one);
    expect(sealer.sealAll(inputs)).toEqual(inputs.map((i) => openssl(key, i)));
    expect(sealer.implementation).toBe("batched");
    expect(onFallback).not.toHaveBeenCalled();
  });

  it("falls back to one node:crypto cipher per value when the batched one fails its probes or throws", () => {
    const key = randomBytes(32);
    const throws = (): GcmSealer => {
      throw new Error("unsupported cipher");
    };
    for (const broken of [alwaysWrong, throws]) {
      const onFallback = vi.fn();
      const sealer = createGcmSealer(createSecretKey(key), { onFallback, candidate: broken });
      expect(sealer.implementation).toBe("per-value");
      expect(onFallback).toHaveBeenCalledTimes(1);
      const input = one();
      expect(sealer.sealAll([input])).toEqual([openssl(key, input)]);
    }
  });

  it("refuses bad input without falling back: a wrong nonce is the caller's mistake, not a disagreement", () => {
    const onFallback = vi.fn();
    const sealer = createGcmSealer(createSecretKey(randomBytes(32)), { onFallback });
    const bad = { nonce: Buffer.alloc(16), aad: Buffer.alloc(0), plaintext: Buffer.alloc(4) };
    expect(() => sealer.sealAll([one(), bad])).toThrow(/12 bytes/);
    expect(sealer.implementation).toBe("batched");
    expect(onFallback).not.toHaveBeenCalled();
  });

  it("catches a batched sealer that goes wrong after its probes by the spot check of the batch, and re-seals that batch per value", () => {
    const key = randomBytes(32);
    const onFallback = vi.fn();
    let calls = 0;
    const wrongAfterProbes = (k: KeyObject): GcmSealer => {
      const inner = createBatchedGcmSealer(k);
      return {
        sealAll: (inputs) => {
          calls++;
          return inner.sealAll(inputs).map((out) => {
            if (calls > 2) out[0] = (out[0] as number) ^ 0x80;
            return out;
          });
        },
      };
    };
    const sealer = createGcmSealer(createSecretKey(key), { onFallback, candidate: wrongAfterProbes });
    const first = Array.from({ length: 10 }, one);
    expect(sealer.sealAll(first)).toEqual(first.map((i) => openssl(key, i)));
    expect(sealer.implementation).toBe("batched");
    const second = Array.from({ length: 10 }, one);
    expect(sealer.sealAll(second)).toEqual(second.map((i) => openssl(key, i)));
    expect(sealer.implementation).toBe("per-value");
    expect(onFallback).toHaveBeenCalledTimes(1);
    const third = [one()];
    expect(sealer.sealAll(third)).toEqual(third.map((i) => openssl(key, i)));
    expect(calls).toBe(3); // never asked again after it was caught
  });
});
