// Shared test data for the unit tests: the h1 test-vector keyring (DESIGN §3)
// and one valid login event (DESIGN §1) with the row it becomes.
import { type Keyring, parseKeyring } from "../../src/transform/keyring.ts";
import { decodeLoginEvent, type ValidEvent } from "../../src/transform/loginEvent.ts";
import type { LoginRow } from "../../src/transform/toRow.ts";

/** Master key bytes 00..1f: the key of the h1 test vectors. */
export const VECTOR_KEY_B64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
export const VECTOR_KEYRING_JSON = JSON.stringify({
  primary: "k1",
  keys: [{ kid: "k1", key: VECTOR_KEY_B64 }],
});

/** 32 key bytes derived from `seed`: distinct per seed, never all equal (a weak key is refused). */
export function keyBytes(seed: number): Buffer {
  return Buffer.from(Array.from({ length: 32 }, (_, i) => (seed * 31 + i * 7 + 1) & 0xff));
}

/** A keyring of one key, made from `seed`, under `kid`. */
export function keyringJson(kid: string, seed: number): string {
  return JSON.stringify({ primary: kid, keys: [{ kid, key: keyBytes(seed).toString("base64") }] });
}

export function keyringOf(json: string): Keyring {
  const parsed = parseKeyring(json);
  if ("problems" in parsed) throw new Error(`test keyring refused: ${parsed.problems.join("; ")}`);
  return parsed.keyring;
}

export const vectorKeyring = (): Keyring => keyringOf(VECTOR_KEYRING_JSON);

export const VALID_EVENT = {
  user_id: "424cdd21-063a-43a7-b91b-7ca1a833afae",
  app_version: "2.3.0",
  device_type: "android",
  ip: "199.172.111.135",
  locale: "RU",
  device_id: "593-47-5928",
} as const;

/**
 * The user_logins row of VALID_EVENT as message "msg-1", sent on 2024-05-17
 * (UTC), its ip and device_id masked with the vector keyring.
 */
export const VALID_ROW: LoginRow = {
  message_id: "msg-1",
  user_id: "424cdd21-063a-43a7-b91b-7ca1a833afae",
  device_type: "android",
  masked_ip: "h1.k1.nXTkOBR7Ozxh45c45aeQBj6hAHm3OgR9H2-KfzLX1kw",
  masked_device_id: "h1.k1.Hc274JsXYMkmiwoGMheEjnFyLzBvfGxqmXcCudCCgbI",
  locale: "RU",
  app_version: 20300,
  app_version_text: "2.3.0",
  create_date: "2024-05-17",
};

/** The h1 pseudonym format (DESIGN §3). */
export const H1 = /^h1\.[a-z0-9-]{1,16}\.[A-Za-z0-9_-]{43}$/;

/** An event as validation returns it (with its canonical bytes), from its fields; throws if invalid. */
export function validated(fields: Record<string, unknown>): ValidEvent {
  const decoded = decodeLoginEvent(JSON.stringify(fields));
  if ("rejection" in decoded) throw new Error(`test event rejected: ${decoded.rejection.detail}`);
  return decoded;
}
