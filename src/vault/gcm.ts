// AES-256-GCM (NIST SP 800-38D, 96-bit nonces, 128-bit tags) for sealing many
// short values under one key. node:crypto's createCipheriv costs 4.5–7 µs per
// value in object set-up and native calls, most of the vault's budget (§3b:
// < 10 µs per message). Here one AES-256-ECB cipher lives as long as the data
// key and encrypts each value's counter blocks in one call, and GHASH runs in
// JavaScript with 4-bit tables. The output is byte for byte what OpenSSL's
// aes-256-gcm gives (test/unit/gcm.test.ts checks it on random inputs), and
// values are opened with node:crypto's own GCM.
import { createCipheriv, type KeyObject } from "node:crypto";

const BLOCK = 16;

/** A 128-bit field element as four big-endian 32-bit words (w0 holds bytes 0–3). */
type Element = [number, number, number, number];

/** One step of V·α in GCM's bit order: shift right by one bit, reduce with R = 0xE1 || 0^120. */
function timesAlpha([a, b, c, d]: Element): Element {
  const carry = d & 1;
  return [
    ((a >>> 1) ^ (carry ? 0xe1000000 : 0)) >>> 0,
    ((b >>> 1) | ((a & 1) << 31)) >>> 0,
    ((c >>> 1) | ((b & 1) << 31)) >>> 0,
    ((d >>> 1) | ((c & 1) << 31)) >>> 0,
  ];
}

const xor = (x: Element, y: Element): Element => [
  (x[0] ^ y[0]) >>> 0,
  (x[1] ^ y[1]) >>> 0,
  (x[2] ^ y[2]) >>> 0,
  (x[3] ^ y[3]) >>> 0,
];

/**
 * What four steps of ·α add to w0 for the four low bits d that fall off the
 * end (by linearity, the rest is a plain 4-bit shift). Found by running the
 * steps on d alone.
 */
const REDUCE: number[] = Array.from({ length: 16 }, (_, d) => {
  let v: Element = [0, 0, 0, d];
  for (let i = 0; i < 4; i++) v = timesAlpha(v);
  return v[0];
});

/** GHASH under H: the products n·H for the 16 nibbles n, whose top bit is the first bit in GCM's order. */
function ghashTable(h: Buffer): Uint32Array[] {
  const powers: Element[] = [[h.readUInt32BE(0), h.readUInt32BE(4), h.readUInt32BE(8), h.readUInt32BE(12)]];
  for (let i = 1; i < 4; i++) powers.push(timesAlpha(powers[i - 1] as Element));
  const table = Array.from({ length: 16 }, (_, n) => {
    let e: Element = [0, 0, 0, 0];
    for (let bit = 0; bit < 4; bit++) if (n & (8 >> bit)) e = xor(e, powers[bit] as Element);
    return Uint32Array.from(e);
  });
  return table;
}

/** Y ← (Y ⊕ X)·H, X given as four big-endian words. */
function multiply(
  y: Uint32Array,
  table: Uint32Array[],
  x0: number,
  x1: number,
  x2: number,
  x3: number,
): void {
  let z0 = 0;
  let z1 = 0;
  let z2 = 0;
  let z3 = 0;
  // Horner over the 32 nibbles of Y ⊕ X, last first: Z ← Z·α⁴ ⊕ T[nibble].
  let word = ((y[3] as number) ^ x3) >>> 0;
  for (let i = 0; i < 32; i++) {
    if (i === 8) word = ((y[2] as number) ^ x2) >>> 0;
    else if (i === 16) word = ((y[1] as number) ^ x1) >>> 0;
    else if (i === 24) word = ((y[0] as number) ^ x0) >>> 0;
    const dropped = z3 & 0xf;
    z3 = ((z3 >>> 4) | (z2 << 28)) >>> 0;
    z2 = ((z2 >>> 4) | (z1 << 28)) >>> 0;
    z1 = ((z1 >>> 4) | (z0 << 28)) >>> 0;
    z0 = ((z0 >>> 4) ^ (REDUCE[dropped] as number)) >>> 0;
    const t = table[word & 0xf] as Uint32Array;
    word >>>= 4;
    z0 ^= t[0] as number;
    z1 ^= t[1] as number;
    z2 ^= t[2] as number;
    z3 ^= t[3] as number;
  }
  y[0] = z0;
  y[1] = z1;
  y[2] = z2;
  y[3] = z3;
}

/** GHASH over `data`, zero-padded to whole blocks. */
function ghashBytes(y: Uint32Array, table: Uint32Array[], data: Buffer, pad: Buffer): void {
  const whole = data.length - (data.length % BLOCK);
  for (let at = 0; at < whole; at += BLOCK) {
    multiply(
      y,
      table,
      data.readUInt32BE(at),
      data.readUInt32BE(at + 4),
      data.readUInt32BE(at + 8),
      data.readUInt32BE(at + 12),
    );
  }
  if (whole === data.length) return;
  pad.fill(0);
  data.copy(pad, 0, whole);
  multiply(y, table, pad.readUInt32BE(0), pad.readUInt32BE(4), pad.readUInt32BE(8), pad.readUInt32BE(12));
}

export interface GcmSealer {
  /** Ciphertext followed by the 16-byte tag, as aes-256-gcm with a 96-bit nonce gives it. */
  seal(nonce: Buffer, aad: Buffer, plaintext: Buffer): Buffer;
}

export function createGcmSealer(key: KeyObject): GcmSealer {
  if (key.symmetricKeySize !== 32) throw new Error("AES-256-GCM needs a 32-byte key");
  const ecb = createCipheriv("aes-256-ecb", key, null);
  ecb.setAutoPadding(false);
  const table = ghashTable(ecb.update(Buffer.alloc(BLOCK)));
  // Scratch space, reused: seal is synchronous.
  const pad = Buffer.alloc(BLOCK);
  const y = new Uint32Array(4);
  return {
    seal(nonce, aad, plaintext) {
      if (nonce.length !== 12) throw new Error("a GCM nonce here is 12 bytes");
      const blocks = Math.ceil(plaintext.length / BLOCK);
      // J0 = nonce || 0^31 || 1, then inc32(J0), inc32²(J0), … for the plaintext.
      const counters = Buffer.allocUnsafe((blocks + 1) * BLOCK);
      for (let i = 0; i <= blocks; i++) {
        nonce.copy(counters, i * BLOCK);
        counters.writeUInt32BE(i + 1, i * BLOCK + 12);
      }
      const stream = ecb.update(counters);
      const out = Buffer.allocUnsafe(plaintext.length + BLOCK);
      for (let i = 0; i < plaintext.length; i++)
        out[i] = (plaintext[i] as number) ^ (stream[BLOCK + i] as number);
      const ct = out.subarray(0, plaintext.length);
      y.fill(0);
      ghashBytes(y, table, aad, pad);
      ghashBytes(y, table, ct, pad);
      // The lengths block: bit lengths of aad and ciphertext, 64 bits each (both far below 2^32 bits here).
      multiply(y, table, 0, (aad.length * 8) >>> 0, 0, (ct.length * 8) >>> 0);
      for (let i = 0; i < 4; i++) {
        out.writeUInt32BE(((y[i] as number) ^ stream.readUInt32BE(i * 4)) >>> 0, ct.length + i * 4);
      }
      return out;
    },
  };
}
