// The masking keyring (§3): which key signs new pseudonyms (`primary`) and the
// master keys by id. Parsed once at start-up; problems name the setting, never
// the key material.
import { z } from "zod";

export interface Keyring {
  readonly primary: string;
  readonly keys: ReadonlyMap<string, Buffer>;
}

const KID = /^[a-z0-9-]{1,16}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const keyringSchema = z
  .object({
    primary: z.string().regex(KID, "must be a kid matching [a-z0-9-]{1,16}"),
    keys: z
      .array(
        z.object({
          kid: z.string().regex(KID, "must match [a-z0-9-]{1,16}"),
          key: z
            .string()
            .regex(BASE64, "must be base64")
            .refine((k) => Buffer.from(k, "base64").length === 32, "must be the base64 of exactly 32 bytes")
            // One key, one spelling: a non-canonical one (no padding, stray low bits) hints at a hand-made key.
            .refine(
              (k) => Buffer.from(k, "base64").toString("base64") === k,
              "must be canonical base64 (as `login-etl keygen` writes it)",
            )
            .refine(
              (k) => !isWeak(Buffer.from(k, "base64")),
              "is weak (all its bytes are equal); make a random one with `login-etl keygen`",
            ),
        }),
      )
      .min(1, "must hold at least one key"),
  })
  .superRefine((ring, ctx) => {
    const kids = ring.keys.map((k) => k.kid);
    if (new Set(kids).size !== kids.length)
      ctx.addIssue({ code: "custom", path: ["keys"], message: "has a kid twice" });
    if (!kids.includes(ring.primary))
      ctx.addIssue({ code: "custom", path: ["primary"], message: "names no kid in keys" });
  });

/** A key whose bytes are all the same (all zero, say): a placeholder, never a secret. */
function isWeak(key: Buffer): boolean {
  return key.every((b) => b === key[0]);
}

/**
 * Parses keyring JSON text. Returns the keyring, or the problems (each "path: expected …").
 * `text` may also be the base64 of the JSON (as PII_KEYRING allows).
 */
export function parseKeyring(text: string): { keyring: Keyring } | { problems: string[] } {
  const trimmed = text.trim();
  const json = trimmed.startsWith("{") ? trimmed : Buffer.from(trimmed, "base64").toString("utf8");
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    // The parser's message quotes the text, which holds key material: never show it.
    return {
      problems: ['is not JSON (nor base64 of JSON) of the form {"primary": kid, "keys": [{"kid", "key"}]}'],
    };
  }
  const parsed = keyringSchema.safeParse(value);
  if (!parsed.success) {
    return {
      problems: parsed.error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(root)"} ${i.message}`),
    };
  }
  return {
    keyring: Object.freeze({
      primary: parsed.data.primary,
      keys: new Map(parsed.data.keys.map((k) => [k.kid, Buffer.from(k.key, "base64")])),
    }),
  };
}
