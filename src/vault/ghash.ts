// GHASH, the authenticator of AES-GCM (NIST SP 800-38D §6.4), so that a batch of
// values can be sealed with one OpenSSL call for all their AES blocks (see
// gcm.ts) instead of one cipher object per value, which costs 4–7 µs of CPU each
// in node:crypto and alone broke the vault's budget of 10 µs per message.
//
// Timing reveals nothing secret. The only secret here is H (= E_K(0), from the
// data key) and everything derived from it; GHASH's inputs (aad, ciphertext,
// lengths) end up in the vault table as they are. So GHASH is computed in its
// sum form, Σ X_j·H^(n+1-j), rather than Horner's (Y ⊕ X_j)·H: each term is a
// product of a public block by a power of H, read from per-power tables indexed
// by the block's nibbles (public indices into secret contents, the table-driven
// GHASH whose timing leak, indices from the secret running state, cannot
// happen). Values longer than CHUNK blocks are summed in chunks, and the running
// state is carried from one chunk to the next by a product whose every operand
// is secret: that one selects the 128 multiples x^i·H^CHUNK through all-ones or
// all-zero masks, all read in a fixed order. The tables are built the same way.
//
// Bit order is GCM's: bit 0 of a block (the top bit of its first byte) is the
// coefficient of x^0, so a block read as four big-endian words holds x^(32j+t) at
// bit 31-t of word j, and multiplying by x is a right shift of the 128 bits.

/** R of SP 800-38D: x^128 = x^7 + x^2 + x + 1, in the top byte of word 0 of GCM's bit order. */
const R = 0xe1000000 | 0;
/** Blocks summed with table lookups before the running state is carried (≥ the 6 of a typical value). */
const CHUNK = 16;
/** Words of a nibble table: 32 nibble positions × 16 nibble values × 4 words. */
const NIBBLE_TABLE_WORDS = 32 * 16 * 4;

export interface Ghash {
  /**
   * Writes GHASH_H(aad, ciphertext) XOR mask right after the ciphertext, which is
   * out[0, ctLength): with mask = E_K(J0), the 16 bytes of maskBytes from maskAt,
   * that is the GCM tag.
   */
  tag(aad: Uint8Array, out: Uint8Array, ctLength: number, maskBytes: Uint8Array, maskAt: number): void;
}

function wordAt(bytes: Uint8Array, at: number): number {
  return (
    ((bytes[at] as number) << 24) |
    ((bytes[at + 1] as number) << 16) |
    ((bytes[at + 2] as number) << 8) |
    (bytes[at + 3] as number)
  );
}

function writeWord(out: Uint8Array, at: number, word: number): void {
  out[at] = word >>> 24;
  out[at + 1] = word >>> 16;
  out[at + 2] = word >>> 8;
  out[at + 3] = word;
}

/** x^i·v for i = 0..127, four words each (v: four words). */
function multiplesOf(v: Int32Array): Int32Array {
  const multiples = new Int32Array(128 * 4);
  let w0 = v[0] as number;
  let w1 = v[1] as number;
  let w2 = v[2] as number;
  let w3 = v[3] as number;
  for (let i = 0; i < 128; i++) {
    multiples[4 * i] = w0;
    multiples[4 * i + 1] = w1;
    multiples[4 * i + 2] = w2;
    multiples[4 * i + 3] = w3;
    // Times x: shift right; the bit shifted out (x^127) comes back as R, masked in.
    const carry = -(w3 & 1);
    w3 = (w3 >>> 1) | (w2 << 31);
    w2 = (w2 >>> 1) | (w1 << 31);
    w1 = (w1 >>> 1) | (w0 << 31);
    w0 = (w0 >>> 1) ^ (R & carry);
  }
  return multiples;
}

/** into = x·v, both secret: the multiples of v selected by masks made from x's bits, in a fixed order. */
function maskedProduct(multiplesOfV: Int32Array, x: Int32Array, into: Int32Array): void {
  let a0 = 0;
  let a1 = 0;
  let a2 = 0;
  let a3 = 0;
  for (let j = 0; j < 4; j++) {
    const word = x[j] as number;
    for (let t = 0; t < 32; t++) {
      const mask = (word << t) >> 31; // all ones when the bit of x^(32j+t) is set
      const k = 4 * (32 * j + t);
      a0 ^= (multiplesOfV[k] as number) & mask;
      a1 ^= (multiplesOfV[k + 1] as number) & mask;
      a2 ^= (multiplesOfV[k + 2] as number) & mask;
      a3 ^= (multiplesOfV[k + 3] as number) & mask;
    }
  }
  into[0] = a0;
  into[1] = a1;
  into[2] = a2;
  into[3] = a3;
}

/**
 * For nibble position p (bits 4p..4p+3 of a block) and nibble value n, the product
 * of that nibble alone by v, at ((16p + n) · 4). The nibble's top bit is x^(4p).
 */
function nibbleTableOf(multiplesOfV: Int32Array): Int32Array {
  const table = new Int32Array(NIBBLE_TABLE_WORDS);
  for (let p = 0; p < 32; p++) {
    for (let n = 1; n < 16; n++) {
      const at = (16 * p + n) * 4;
      for (let b = 0; b < 4; b++) {
        if (!(n & (8 >> b))) continue; // n is a loop counter, not a secret
        const k = 4 * (4 * p + b);
        for (let w = 0; w < 4; w++)
          table[at + w] = (table[at + w] as number) ^ (multiplesOfV[k + w] as number);
      }
    }
  }
  return table;
}

export function createGhash(h: Uint8Array): Ghash {
  if (h.length !== 16) throw new Error("a GHASH key is one 16-byte block");
  const hWords = Int32Array.of(wordAt(h, 0), wordAt(h, 4), wordAt(h, 8), wordAt(h, 12));
  const multiplesOfH = multiplesOf(hWords);
  // byPower[k - 1]: the nibble table of H^k, k = 1..CHUNK.
  const byPower: Int32Array[] = [];
  let power = hWords;
  let multiples = multiplesOfH;
  for (let k = 1; k <= CHUNK; k++) {
    byPower.push(nibbleTableOf(multiples));
    if (k === CHUNK) break;
    const next = new Int32Array(4);
    maskedProduct(multiplesOfH, power, next);
    power = next;
    multiples = multiplesOf(power);
  }
  const multiplesOfChunkPower = multiples; // H^CHUNK

  let blocks = new Int32Array(CHUNK * 4); // the value's blocks, as words, zero-padded
  const state = new Int32Array(4);

  /** Writes bytes[0, length) into blocks from word `at`, zero-padded to a whole block; returns the next word. */
  const load = (bytes: Uint8Array, length: number, at: number) => {
    const whole = length - (length % 4);
    for (let i = 0; i < whole; i += 4) blocks[at++] = wordAt(bytes, i);
    if (whole < length) {
      let word = 0;
      for (let i = 0; i < 4; i++)
        word = (word << 8) | (whole + i < length ? (bytes[whole + i] as number) : 0);
      blocks[at++] = word;
    }
    while (at % 4) blocks[at++] = 0;
    return at;
  };

  return {
    tag(aad, out, ctLength, maskBytes, maskAt) {
      const count = Math.ceil(aad.length / 16) + Math.ceil(ctLength / 16) + 1;
      if (blocks.length < count * 4) blocks = new Int32Array(count * 4);
      let at = load(out, ctLength, load(aad, aad.length, 0));
      // The lengths block: bit lengths of aad and ciphertext, 64 bits big-endian each.
      const aadBits = aad.length * 8;
      const ctBits = ctLength * 8;
      blocks[at++] = Math.floor(aadBits / 2 ** 32);
      blocks[at++] = aadBits;
      blocks[at++] = Math.floor(ctBits / 2 ** 32);
      blocks[at++] = ctBits;

      let y0 = 0;
      let y1 = 0;
      let y2 = 0;
      let y3 = 0;
      // The first chunk takes the remainder, so that every later one is a whole CHUNK.
      let size = count % CHUNK || CHUNK;
      for (let first = 0; first < count; first += size, size = CHUNK) {
        if (first > 0) {
          state[0] = y0;
          state[1] = y1;
          state[2] = y2;
          state[3] = y3;
          maskedProduct(multiplesOfChunkPower, state, state);
          y0 = state[0] as number;
          y1 = state[1] as number;
          y2 = state[2] as number;
          y3 = state[3] as number;
        }
        for (let i = 0; i < size; i++) {
          const table = byPower[size - 1 - i] as Int32Array; // block i of the chunk: H^(size - i)
          const base = (first + i) * 4;
          for (let q = 0; q < 4; q++) {
            const word = blocks[base + q] as number;
            for (let t = 0; t < 8; t++) {
              const k = (16 * (8 * q + t) + ((word >>> (28 - 4 * t)) & 15)) * 4;
              y0 ^= table[k] as number;
              y1 ^= table[k + 1] as number;
              y2 ^= table[k + 2] as number;
              y3 ^= table[k + 3] as number;
            }
          }
        }
      }
      state.fill(0);
      writeWord(out, ctLength, y0 ^ wordAt(maskBytes, maskAt));
      writeWord(out, ctLength + 4, y1 ^ wordAt(maskBytes, maskAt + 4));
      writeWord(out, ctLength + 8, y2 ^ wordAt(maskBytes, maskAt + 8));
      writeWord(out, ctLength + 12, y3 ^ wordAt(maskBytes, maskAt + 12));
    },
  };
}
