// The recovery key pair (§3b): the loader holds the public key
// `{"kid", "public_key"}`, the privacy officer the private key
// `{"kid", "private_key"}` (offline). Problems name the field, never the key.
import { z } from "zod";
import { generateX25519, rawPublicKey, x25519PrivateKey } from "./hpke.ts";

export const RECOVERY_KID = /^[a-z0-9-]{1,16}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export interface RecoveryPublicKey {
  readonly kid: string;
  readonly publicKey: Buffer;
}

export interface RecoveryPrivateKey {
  readonly kid: string;
  readonly privateKey: Buffer;
  readonly publicKey: Buffer;
}

const key32 = z
  .string()
  .regex(BASE64, "must be base64")
  .refine((k) => Buffer.from(k, "base64").length === 32, "must be the base64 of exactly 32 bytes");
const kid = z.string().regex(RECOVERY_KID, "must match [a-z0-9-]{1,16}");

const publicSchema = z.object({ kid, public_key: key32 }).strict();
const privateSchema = z.object({ kid, private_key: key32 }).strict();

type Parsed<T> = { key: T } | { problems: string[] };

function parseJson(text: string, shape: string): { value: unknown } | { problems: string[] } {
  try {
    return { value: JSON.parse(text) };
  } catch {
    // JSON.parse's message quotes the text, which may hold key material.
    return { problems: [`is not JSON of the form ${shape}`] };
  }
}

const issues = (error: z.ZodError) =>
  error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(root)"} ${i.message}`);

/** The loader's public key. A private key here is refused: the loader must never be able to open. */
export function parsePublicKey(text: string): Parsed<RecoveryPublicKey> {
  const json = parseJson(text.trim(), '{"kid", "public_key"}');
  if ("problems" in json) return json;
  if (json.value && typeof json.value === "object" && "private_key" in json.value) {
    return {
      problems: [
        "holds a private key: the loader must be given only the public key (the JSON that `login-etl vault-keygen` printed); keep the private key offline",
      ],
    };
  }
  const parsed = publicSchema.safeParse(json.value);
  if (!parsed.success) return { problems: issues(parsed.error) };
  return {
    key: Object.freeze({ kid: parsed.data.kid, publicKey: Buffer.from(parsed.data.public_key, "base64") }),
  };
}

export function parsePrivateKey(text: string): Parsed<RecoveryPrivateKey> {
  const json = parseJson(text.trim(), '{"kid", "private_key"}');
  if ("problems" in json) return json;
  const parsed = privateSchema.safeParse(json.value);
  if (!parsed.success) return { problems: issues(parsed.error) };
  const privateKey = Buffer.from(parsed.data.private_key, "base64");
  return {
    key: Object.freeze({
      kid: parsed.data.kid,
      privateKey,
      publicKey: rawPublicKey(x25519PrivateKey(privateKey)),
    }),
  };
}

/** A new recovery key pair as the two JSON texts: the private key file and the public key. */
export function newRecoveryKeyPair(keyId: string): { privateJson: string; publicJson: string } {
  const { publicKey, privateKey } = generateX25519();
  return {
    privateJson: `${JSON.stringify({ kid: keyId, private_key: privateKey.toString("base64") })}\n`,
    publicJson: JSON.stringify({ kid: keyId, public_key: publicKey.toString("base64") }),
  };
}
