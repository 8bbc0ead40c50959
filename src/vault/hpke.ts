// HPKE base mode (RFC 9180) on node:crypto: DHKEM(X25519, HKDF-SHA256),
// HKDF-SHA256, AES-GCM, single shot (sequence number 0). Used once per data key
// to wrap it to the recovery public key (§3b), so its cost does not matter;
// synchronous and without a dependency. Checked against RFC 9180's test vectors
// and against @hpke/core in test/unit/hpke.test.ts.
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";

const KEM_ID = 0x0020; // DHKEM(X25519, HKDF-SHA256)
const KDF_ID = 0x0001; // HKDF-SHA256
/** RFC 9180 AEAD ids: 0x0001 AES-128-GCM (only for the RFC's X25519 test vector), 0x0002 AES-256-GCM. */
export type AeadId = 1 | 2;
const KEY_LENGTH: Record<AeadId, number> = { 1: 16, 2: 32 };
const NONCE_LENGTH = 12;
const TAG_LENGTH = 16;
const HASH_LENGTH = 32;
const MODE_BASE = 0;

// DER wrappers of raw X25519 keys (RFC 8410): node:crypto imports keys as DER or JWK.
const SPKI_PREFIX = Buffer.from("302a300506032b656e032100", "hex");
const PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");

const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const KEM_SUITE = Buffer.concat([Buffer.from("KEM"), u16(KEM_ID)]);
const hpkeSuite = (aead: AeadId) => Buffer.concat([Buffer.from("HPKE"), u16(KEM_ID), u16(KDF_ID), u16(aead)]);
const VERSION = Buffer.from("HPKE-v1");

export function x25519PublicKey(raw: Buffer): KeyObject {
  if (raw.length !== 32) throw new Error("an X25519 public key is 32 bytes");
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: "der", type: "spki" });
}

export function x25519PrivateKey(raw: Buffer): KeyObject {
  if (raw.length !== 32) throw new Error("an X25519 private key is 32 bytes");
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: "der", type: "pkcs8" });
}

export function rawPublicKey(key: KeyObject): Buffer {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  return pub.export({ format: "der", type: "spki" }).subarray(SPKI_PREFIX.length);
}

export function rawPrivateKey(key: KeyObject): Buffer {
  return key.export({ format: "der", type: "pkcs8" }).subarray(PKCS8_PREFIX.length);
}

export function generateX25519(): { publicKey: Buffer; privateKey: Buffer } {
  const pair = generateKeyPairSync("x25519");
  return { publicKey: rawPublicKey(pair.publicKey), privateKey: rawPrivateKey(pair.privateKey) };
}

function extract(salt: Buffer, ikm: Buffer): Buffer {
  // RFC 5869: an empty salt is a string of HashLen zeros.
  return createHmac("sha256", salt.length ? salt : Buffer.alloc(HASH_LENGTH))
    .update(ikm)
    .digest();
}

function expand(prk: Buffer, info: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  let previous = Buffer.alloc(0);
  for (let i = 1; blocks.length * HASH_LENGTH < length; i++) {
    previous = createHmac("sha256", prk)
      .update(Buffer.concat([previous, info, Buffer.from([i])]))
      .digest();
    blocks.push(previous);
  }
  return Buffer.concat(blocks).subarray(0, length);
}

const labeledExtract = (suite: Buffer, salt: Buffer, label: string, ikm: Buffer) =>
  extract(salt, Buffer.concat([VERSION, suite, Buffer.from(label), ikm]));

const labeledExpand = (suite: Buffer, prk: Buffer, label: string, info: Buffer, length: number) =>
  expand(prk, Buffer.concat([u16(length), VERSION, suite, Buffer.from(label), info]), length);

function dh(privateKey: KeyObject, publicKey: KeyObject): Buffer {
  const shared = diffieHellman({ privateKey, publicKey });
  // RFC 9180 §7.1.4: an all-zero X25519 output (a small-order public key) must be refused.
  if (shared.every((b) => b === 0)) throw new Error("X25519 produced the all-zero shared secret");
  return shared;
}

function kemSharedSecret(dhValue: Buffer, enc: Buffer, pkR: Buffer): Buffer {
  const prk = labeledExtract(KEM_SUITE, Buffer.alloc(0), "eae_prk", dhValue);
  return labeledExpand(KEM_SUITE, prk, "shared_secret", Buffer.concat([enc, pkR]), HASH_LENGTH);
}

/** The base-mode key schedule: the AEAD key and base nonce. */
export function keySchedule(
  sharedSecret: Buffer,
  info: Buffer,
  aead: AeadId,
): { key: Buffer; baseNonce: Buffer } {
  const suite = hpkeSuite(aead);
  const empty = Buffer.alloc(0);
  const context = Buffer.concat([
    Buffer.from([MODE_BASE]),
    labeledExtract(suite, empty, "psk_id_hash", empty),
    labeledExtract(suite, empty, "info_hash", info),
  ]);
  const secret = labeledExtract(suite, sharedSecret, "secret", empty);
  return {
    key: labeledExpand(suite, secret, "key", context, KEY_LENGTH[aead]),
    baseNonce: labeledExpand(suite, secret, "base_nonce", context, NONCE_LENGTH),
  };
}

const gcm = (aead: AeadId) => (aead === 1 ? "aes-128-gcm" : "aes-256-gcm");

export interface HpkeSealed {
  /** The encapsulated (ephemeral) public key, 32 bytes. */
  readonly enc: Buffer;
  /** Ciphertext followed by the 16-byte tag. */
  readonly ct: Buffer;
}

export interface SealOptions {
  readonly aead?: AeadId;
  /** Test vectors only: a fixed ephemeral private key instead of a fresh one. */
  readonly ephemeralPrivateKey?: Buffer;
}

/** SealBase(pkR, info, aad, pt) of RFC 9180 §6.1. */
export function sealBase(
  recipientPublicKey: Buffer,
  info: Buffer,
  aad: Buffer,
  plaintext: Buffer,
  options: SealOptions = {},
): HpkeSealed {
  const aead = options.aead ?? 2;
  const ephemeral = options.ephemeralPrivateKey
    ? x25519PrivateKey(options.ephemeralPrivateKey)
    : generateKeyPairSync("x25519").privateKey;
  const enc = rawPublicKey(ephemeral);
  const shared = kemSharedSecret(dh(ephemeral, x25519PublicKey(recipientPublicKey)), enc, recipientPublicKey);
  const { key, baseNonce } = keySchedule(shared, info, aead);
  const cipher = createCipheriv(gcm(aead), key, baseNonce, { authTagLength: TAG_LENGTH });
  cipher.setAAD(aad);
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { enc, ct };
}

/** OpenBase(enc, skR, info, aad, ct) of RFC 9180 §6.1; throws when it does not open. */
export function openBase(
  recipientPrivateKey: Buffer,
  sealed: HpkeSealed,
  info: Buffer,
  aad: Buffer,
  aead: AeadId = 2,
): Buffer {
  if (sealed.enc.length !== 32 || sealed.ct.length < TAG_LENGTH) throw new Error("malformed HPKE ciphertext");
  const skR = x25519PrivateKey(recipientPrivateKey);
  const pkR = rawPublicKey(skR);
  const shared = kemSharedSecret(dh(skR, x25519PublicKey(sealed.enc)), sealed.enc, pkR);
  const { key, baseNonce } = keySchedule(shared, info, aead);
  const decipher = createDecipheriv(gcm(aead), key, baseNonce, { authTagLength: TAG_LENGTH });
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.ct.subarray(sealed.ct.length - TAG_LENGTH));
  return Buffer.concat([
    decipher.update(sealed.ct.subarray(0, sealed.ct.length - TAG_LENGTH)),
    decipher.final(),
  ]);
}
