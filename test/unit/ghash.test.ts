import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createGhash } from "../../src/vault/ghash.ts";

// SP 800-38D's Algorithm 1 (bit by bit, on BigInts), as the oracle for any H: through GCM
// itself H is always E_K(0), so edge values of H can only be reached this way.
const R = 0xe1n << 120n;
const MASK = (1n << 128n) - 1n;
const big = (b: Uint8Array) => BigInt(`0x${Buffer.from(b).toString("hex") || "0"}`);

function multiply(x: bigint, y: bigint): bigint {
  let z = 0n;
  let v = y;
  for (let i = 127; i >= 0; i--) {
    if ((x >> BigInt(i)) & 1n) z ^= v;
    v = v & 1n ? (v >> 1n) ^ R : v >> 1n;
  }
  return z & MASK;
}

function referenceGhash(h: Uint8Array, aad: Uint8Array, ct: Uint8Array): bigint {
  const blocks: bigint[] = [];
  for (const bytes of [aad, ct]) {
    for (let at = 0; at < bytes.length; at += 16) {
      const block = Buffer.alloc(16);
      Buffer.from(bytes.subarray(at, at + 16)).copy(block);
      blocks.push(big(block));
    }
  }
  blocks.push((BigInt(aad.length * 8) << 64n) | BigInt(ct.length * 8));
  let y = 0n;
  for (const x of blocks) y = multiply(y ^ x, big(h));
  return y;
}

/** Our GHASH of (aad, ct) with a zero mask, as a BigInt. */
function ours(h: Uint8Array, aad: Uint8Array, ct: Uint8Array): bigint {
  const out = Buffer.alloc(ct.length + 16);
  Buffer.from(ct).copy(out);
  createGhash(h).tag(aad, out, ct.length, Buffer.alloc(16), 0);
  return big(out.subarray(ct.length));
}

const EDGE_H = [
  Buffer.alloc(16), // zero
  Buffer.alloc(16, 0xff), // all ones
  Buffer.from(`80${"00".repeat(15)}`, "hex"), // 1 (x^0)
  Buffer.from(`${"00".repeat(15)}01`, "hex"), // x^127: the reduction at every step
  Buffer.from(`${"00".repeat(15)}80`, "hex"),
  Buffer.from("8000000080000000800000008000000f", "hex"), // the top bit of every word
];

describe("GHASH", () => {
  it.each(EDGE_H.map((h) => [h.toString("hex"), h]))(
    "agrees with SP 800-38D's Algorithm 1 for H = %s, in one chunk and over several",
    (_hex, h) => {
      for (const [aadLength, ctLength] of [
        [0, 0],
        [20, 60],
        [64, 200], // 18 blocks: two chunks
        [77, 1024], // 70 blocks: five chunks
      ]) {
        const aad = randomBytes(aadLength as number);
        const ct = randomBytes(ctLength as number);
        expect(ours(h, aad, ct)).toBe(referenceGhash(h, aad, ct));
      }
    },
  );

  it("agrees with Algorithm 1 for random H and all-ones data (every nibble 15, every mask set)", () => {
    for (let i = 0; i < 20; i++) {
      const h = randomBytes(16);
      const aad = Buffer.alloc(16 * (i % 5), 0xff);
      const ct = Buffer.alloc(16 * i + (i % 16), 0xff);
      expect(ours(h, aad, ct)).toBe(referenceGhash(h, aad, ct));
    }
  });
});
