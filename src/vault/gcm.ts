// AES-256-GCM (96-bit nonces, 128-bit tags) for sealing values under one data
// key, a batch at a time. Two implementations giving the same bytes:
//
// - batched: the AES blocks of the whole batch (each value's E_K(J0) and its
//   counter blocks) in one OpenSSL AES-256-ECB call, the XOR and GHASH (ghash.ts)
//   here. About 1 µs of CPU per value.
// - per value: one node:crypto aes-256-gcm cipher per value, the reference. 4–7
//   µs per value, nearly all of it the cost of making a cipher object, so it
//   alone spent the vault's budget of 10 µs per message (two values).
//
// The AES itself is OpenSSL's in both. The batched one is used only while it
// gives the reference's bytes (see createGcmSealer).
import { createCipheriv, type KeyObject, randomBytes } from "node:crypto";
import { createGhash } from "./ghash.ts";

const TAG_BYTES = 16;
const NONCE_BYTES = 12;

export interface GcmInput {
  readonly nonce: Buffer;
  readonly aad: Buffer;
  readonly plaintext: Buffer;
}

export interface GcmSealer {
  /** For each input, its ciphertext followed by the 16-byte tag, as aes-256-gcm with a 96-bit nonce gives it. */
  sealAll(inputs: readonly GcmInput[]): Buffer[];
}

function checkKey(key: KeyObject): void {
  if (key.symmetricKeySize !== 32) throw new Error("AES-256-GCM needs a 32-byte key");
}

const checkNonce = (nonce: Buffer) => {
  if (nonce.length !== NONCE_BYTES) throw new Error("a GCM nonce here is 12 bytes");
};

export function createPerValueGcmSealer(key: KeyObject): GcmSealer {
  checkKey(key);
  return {
    sealAll(inputs) {
      return inputs.map(({ nonce, aad, plaintext }) => {
        checkNonce(nonce);
        const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
        cipher.setAAD(aad);
        const ct = cipher.update(plaintext);
        cipher.final(); // GCM is a stream mode: final adds no bytes, it computes the tag
        return Buffer.concat([ct, cipher.getAuthTag()], ct.length + TAG_BYTES);
      });
    },
  };
}

/** AES blocks a value needs: E_K(J0) for its tag, then one per 16 bytes of plaintext. */
const blocksFor = (plaintext: Buffer) => 1 + Math.ceil(plaintext.length / 16);

export function createBatchedGcmSealer(key: KeyObject): GcmSealer {
  checkKey(key);
  // ECB over counter blocks is GCM's CTR keystream: the block cipher alone, no chaining.
  const aes = createCipheriv("aes-256-ecb", key, null).setAutoPadding(false);
  const ghash = createGhash(aes.update(Buffer.alloc(16))); // H = E_K(0^128)
  return {
    sealAll(inputs) {
      let blocks = 0;
      for (const input of inputs) {
        checkNonce(input.nonce);
        blocks += blocksFor(input.plaintext);
      }
      // Counter blocks nonce || 1 (J0), nonce || 2, … for each value in turn.
      const counters = Buffer.allocUnsafe(blocks * 16);
      let at = 0;
      for (const { nonce, plaintext } of inputs) {
        const count = blocksFor(plaintext);
        for (let c = 1; c <= count; c++, at += 16) {
          for (let i = 0; i < NONCE_BYTES; i++) counters[at + i] = nonce[i] as number;
          counters.writeUInt32BE(c, at + NONCE_BYTES);
        }
      }
      const keystream = aes.update(counters);
      try {
        at = 0;
        return inputs.map(({ aad, plaintext }) => {
          const length = plaintext.length;
          const out = Buffer.allocUnsafe(length + TAG_BYTES);
          for (let i = 0; i < length; i++)
            out[i] = (plaintext[i] as number) ^ (keystream[at + 16 + i] as number);
          ghash.tag(aad, out, length, keystream, at);
          at += 16 * blocksFor(plaintext);
          return out;
        });
      } finally {
        keystream.fill(0); // with the ciphertexts, the keystream is the plaintexts
      }
    },
  };
}

export type GcmImplementation = "batched" | "per-value";

export interface CheckedGcmSealer extends GcmSealer {
  /** Batched, until it once gave other bytes than the reference; per value from then on. */
  readonly implementation: GcmImplementation;
}

const probeInput = (aadBytes: number, plaintextBytes: number): GcmInput => ({
  nonce: randomBytes(NONCE_BYTES),
  aad: randomBytes(aadBytes),
  plaintext: randomBytes(plaintextBytes),
});

/** Values of each batch sealed again by the reference and compared (~5 µs each). */
const SPOT_CHECKS = 8;

/**
 * The batched sealer, checked against the reference under this key: first on
 * probes of the shapes the vault seals (empty, partial and whole blocks, and more
 * than one GHASH chunk), then on SPOT_CHECKS values of every batch picked at
 * random, re-sealed per value and compared. That catches a fault that touches
 * many values, not one confined to a rare shape: the tests' fuzzing is for those.
 * Any difference, or a throw from the batched code, and this key seals per value
 * from then on (the batch in hand included), and onFallback is told once. Bad
 * input (a nonce of the wrong size) throws before either runs.
 */
export function createGcmSealer(
  key: KeyObject,
  options: { onFallback?: () => void; candidate?: (key: KeyObject) => GcmSealer } = {},
): CheckedGcmSealer {
  const reference = createPerValueGcmSealer(key);
  let batched: GcmSealer | null = null;
  const agrees = (inputs: readonly GcmInput[], outputs: readonly Buffer[]) =>
    reference.sealAll(inputs).every((out, i) => out.equals(outputs[i] as Buffer));
  try {
    const candidate = (options.candidate ?? createBatchedGcmSealer)(key);
    const probes = [probeInput(0, 0), probeInput(55, 16), probeInput(16, 11), probeInput(61, 300)];
    if (agrees(probes, candidate.sealAll(probes))) batched = candidate;
  } catch {
    // A platform where it cannot run (no aes-256-ecb, say): the reference then.
  }
  if (batched === null) options.onFallback?.();
  return {
    sealAll(inputs) {
      for (const input of inputs) checkNonce(input.nonce);
      if (batched !== null && inputs.length) {
        try {
          const sealed = batched.sealAll(inputs);
          // Which values are checked is no secret.
          const spots = Array.from({ length: Math.min(SPOT_CHECKS, inputs.length) }, () =>
            Math.floor(Math.random() * inputs.length),
          );
          const same = agrees(
            spots.map((i) => inputs[i] as GcmInput),
            spots.map((i) => sealed[i] as Buffer),
          );
          if (same) return sealed;
        } catch {
          // as a difference
        }
        batched = null;
        options.onFallback?.();
      }
      return reference.sealAll(inputs);
    },
    get implementation() {
      return batched === null ? "per-value" : "batched";
    },
  };
}
