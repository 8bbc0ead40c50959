import { describe, expect, it } from "vitest";
import { parseKeyring } from "../../src/transform/keyring.ts";
import { keyBytes, VECTOR_KEY_B64, VECTOR_KEYRING_JSON } from "./fixtures.ts";

const KEY_A = keyBytes(0xa1).toString("base64");
const KEY_B = keyBytes(0xb2).toString("base64");
const KEY_31 = Buffer.alloc(31, 0xc3).toString("base64");
const KEY_33 = Buffer.alloc(33, 0xd4).toString("base64");

function problemsOf(text: string): string[] {
  const parsed = parseKeyring(text);
  if (!("problems" in parsed)) throw new Error("expected problems, got a keyring");
  expect(parsed.problems.length).toBeGreaterThan(0);
  return parsed.problems;
}

/** No problem may quote key material: neither a key, nor the keyring text, nor its base64. */
function expectNoKeyMaterial(problems: string[], text: string) {
  const secrets = [
    ...[VECTOR_KEY_B64, KEY_A, KEY_B, KEY_31, KEY_33].map((k) => k.slice(0, 12)),
    text,
    Buffer.from(text).toString("base64").slice(0, 12),
  ].filter((s) => s.length >= 8);
  for (const problem of problems) for (const secret of secrets) expect(problem).not.toContain(secret);
}

const ring = (primary: unknown, keys: unknown) => JSON.stringify({ primary, keys });

describe("parseKeyring", () => {
  it("parses keyring JSON into the primary kid and 32-byte keys by kid", () => {
    const parsed = parseKeyring(VECTOR_KEYRING_JSON);
    if (!("keyring" in parsed)) throw new Error(parsed.problems.join("; "));
    expect(parsed.keyring.primary).toBe("k1");
    expect([...parsed.keyring.keys.keys()]).toEqual(["k1"]);
    expect(parsed.keyring.keys.get("k1")?.toString("hex")).toBe(
      "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    );
  });

  it("parses the base64 of the keyring JSON alike", () => {
    const parsed = parseKeyring(Buffer.from(VECTOR_KEYRING_JSON).toString("base64"));
    expect(parsed).toEqual(parseKeyring(VECTOR_KEYRING_JSON));
    expect("keyring" in parsed).toBe(true);
  });

  it("ignores white space around the text (a trailing newline in a file)", () => {
    expect(parseKeyring(`\n  ${VECTOR_KEYRING_JSON}\n`)).toEqual(parseKeyring(VECTOR_KEYRING_JSON));
    expect(parseKeyring(`${Buffer.from(VECTOR_KEYRING_JSON).toString("base64")}\n`)).toEqual(
      parseKeyring(VECTOR_KEYRING_JSON),
    );
  });

  it("keeps every key of a keyring with several, and accepts kids at the edges of [a-z0-9-]{1,16}", () => {
    const parsed = parseKeyring(
      ring("0123456789abcdef", [
        { kid: "a", key: KEY_A },
        { kid: "0123456789abcdef", key: KEY_B },
        { kid: "2024-01", key: VECTOR_KEY_B64 },
      ]),
    );
    if (!("keyring" in parsed)) throw new Error(parsed.problems.join("; "));
    expect(parsed.keyring.primary).toBe("0123456789abcdef");
    expect([...parsed.keyring.keys.keys()]).toEqual(["a", "0123456789abcdef", "2024-01"]);
    expect(parsed.keyring.keys.get("0123456789abcdef")?.equals(keyBytes(0xb2))).toBe(true);
  });

  it("returns a frozen keyring", () => {
    const parsed = parseKeyring(VECTOR_KEYRING_JSON);
    if (!("keyring" in parsed)) throw new Error(parsed.problems.join("; "));
    expect(Object.isFrozen(parsed.keyring)).toBe(true);
  });

  it("reports an empty keys list", () => {
    const text = ring("k1", []);
    const problems = problemsOf(text);
    expect(problems.join("\n")).toMatch(/keys must hold at least one key/);
    expectNoKeyMaterial(problems, text);
  });

  it("reports missing primary and keys", () => {
    const problems = problemsOf("{}");
    expect(problems.some((p) => p.startsWith("primary"))).toBe(true);
    expect(problems.some((p) => p.startsWith("keys"))).toBe(true);
  });

  it.each([
    ["upper case", "K1"],
    ["an underscore", "k_1"],
    ["17 characters", "a".repeat(17)],
    ["the empty string", ""],
    ["a dot", "k.1"],
  ])("reports a kid with %s", (_why, kid) => {
    const text = ring("k1", [
      { kid: "k1", key: KEY_A },
      { kid, key: KEY_B },
    ]);
    const problems = problemsOf(text);
    expect(problems).toContain("keys.1.kid must match [a-z0-9-]{1,16}");
    expectNoKeyMaterial(problems, text);
  });

  it("reports a primary that is not a valid kid", () => {
    const problems = problemsOf(ring("Primary!", [{ kid: "k1", key: KEY_A }]));
    expect(problems.some((p) => p.startsWith("primary"))).toBe(true);
  });

  it.each([
    ["31 bytes", KEY_31],
    ["33 bytes", KEY_33],
    ["nothing", ""],
    ["base64url", Buffer.alloc(32, 0xfb).toString("base64url")],
    ["hex of 32 bytes", Buffer.alloc(32, 0xa1).toString("hex")],
    ["not base64 at all", "this is the secret key, not b64!"],
  ])("reports a key of %s", (_why, key) => {
    const text = ring("k1", [{ kid: "k1", key }]);
    const problems = problemsOf(text);
    expect(problems.some((p) => p.startsWith("keys.0.key"))).toBe(true);
    expectNoKeyMaterial(problems, text);
    if (key) for (const p of problems) expect(p).not.toContain(key.slice(0, 8));
  });

  it.each([
    ["all zero bytes", Buffer.alloc(32).toString("base64")],
    ["one byte repeated", Buffer.alloc(32, 0x5a).toString("base64")],
  ])("refuses a weak key of %s", (_why, key) => {
    const problems = problemsOf(ring("k1", [{ kid: "k1", key }]));
    expect(problems).toContain(
      "keys.0.key is weak (all its bytes are equal); make a random one with `login-etl keygen`",
    );
  });

  it("refuses a non-canonical base64 spelling of a good key (no padding, or stray low bits)", () => {
    const canonical = keyBytes(9).toString("base64");
    const unpadded = canonical.replace(/=+$/, "");
    // The last character before "=" carries 4 unused low bits: setting one names the same 32 bytes.
    const strayBits = `${canonical.slice(0, 42)}${String.fromCharCode(canonical.charCodeAt(42) + 1)}=`;
    expect(Buffer.from(strayBits, "base64").equals(keyBytes(9))).toBe(true);
    for (const key of [unpadded, strayBits]) {
      const problems = problemsOf(ring("k1", [{ kid: "k1", key }]));
      expect(problems).toContain("keys.0.key must be canonical base64 (as `login-etl keygen` writes it)");
    }
  });

  it("reports a key that is not a string", () => {
    const problems = problemsOf(ring("k1", [{ kid: "k1", key: [1, 2, 3] }]));
    expect(problems.some((p) => p.startsWith("keys.0.key"))).toBe(true);
  });

  it("reports a primary that names no kid in keys", () => {
    const text = ring("k2", [{ kid: "k1", key: KEY_A }]);
    const problems = problemsOf(text);
    expect(problems).toEqual(["primary names no kid in keys"]);
    expectNoKeyMaterial(problems, text);
  });

  it("reports a kid that appears twice", () => {
    const text = ring("k1", [
      { kid: "k1", key: KEY_A },
      { kid: "k1", key: KEY_B },
    ]);
    const problems = problemsOf(text);
    expect(problems).toEqual(["keys has a kid twice"]);
    expectNoKeyMaterial(problems, text);
  });

  it.each([
    ["truncated JSON", VECTOR_KEYRING_JSON.slice(0, -3)],
    ["JSON with a trailing comma", `{"primary": "k1", "keys": [{"kid": "k1", "key": "${KEY_A}"},]}`],
    ["base64 of garbage", Buffer.from(`garbage ${KEY_A}`).toString("base64")],
    ["base64 of truncated JSON", Buffer.from(VECTOR_KEYRING_JSON.slice(0, -3)).toString("base64")],
    ["the empty string", ""],
    ["a bare key", KEY_A],
  ])("reports text that is not JSON (%s) without quoting it", (_why, text) => {
    const problems = problemsOf(text);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^is not JSON/);
    expectNoKeyMaterial(problems, text);
  });

  it.each([
    ["an array", "[]"],
    ["a string", '"k1"'],
    ["null", "null"],
  ])("reports JSON that is not an object (%s)", (_why, json) => {
    expect(problemsOf(Buffer.from(json).toString("base64")).length).toBeGreaterThan(0);
  });
});
