import { createCipheriv, createSecretKey, randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createGcmSealer } from "../../src/vault/gcm.ts";

function openssl(key: Buffer, nonce: Buffer, aad: Buffer, pt: Buffer): Buffer {
  const c = createCipheriv("aes-256-gcm", key, nonce);
  c.setAAD(aad);
  return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
}

describe("the vault's AES-256-GCM sealer", () => {
  it("gives OpenSSL's aes-256-gcm output byte for byte on random keys, nonces, aad and plaintexts", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.uint8Array({ maxLength: 100 }),
        fc.uint8Array({ maxLength: 300 }),
        (key, nonce, aad, pt) => {
          const k = Buffer.from(key);
          const sealer = createGcmSealer(createSecretKey(k));
          const args = [Buffer.from(nonce), Buffer.from(aad), Buffer.from(pt)] as const;
          expect(sealer.seal(...args)).toEqual(openssl(k, ...args));
        },
      ),
      { numRuns: 400 },
    );
  });

  it("keeps giving the right output over many values under one key", () => {
    const key = randomBytes(32);
    const sealer = createGcmSealer(createSecretKey(key));
    for (let i = 0; i < 500; i++) {
      const nonce = randomBytes(12);
      const aad = Buffer.from(`v1|ip|h1.k1.${i}`);
      const pt = randomBytes(i % 40);
      expect(sealer.seal(nonce, aad, pt)).toEqual(openssl(key, nonce, aad, pt));
    }
  });

  it("matches the NIST GCM test case 14 (AES-256, zero key, zero nonce, one zero block)", () => {
    const sealer = createGcmSealer(createSecretKey(Buffer.alloc(32)));
    const out = sealer.seal(Buffer.alloc(12), Buffer.alloc(0), Buffer.alloc(16));
    expect(out.toString("hex")).toBe("cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919");
  });
});
