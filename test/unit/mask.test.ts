import { createHmac, createSecretKey, hkdfSync } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalIpBytes } from "../../src/transform/ipAddress.ts";
import type { Keyring } from "../../src/transform/keyring.ts";
import {
  canonicalDeviceIdBytes,
  createMasker,
  deriveFieldKey,
  type PiiField,
} from "../../src/transform/mask.ts";
import { H1, keyBytes, keyringJson, keyringOf, VECTOR_KEY_B64, vectorKeyring } from "./fixtures.ts";

const unhex = (s: string) => Buffer.from(s.replaceAll(" ", ""), "hex");

/** HKDF-SHA256 (RFC 5869) written from HMAC alone, independent of crypto.hkdfSync. */
function hkdf(ikm: Buffer, salt: Buffer, info: Buffer, length: number): Buffer {
  const prk = createHmac("sha256", salt).update(ikm).digest();
  const blocks: Buffer[] = [];
  let previous = Buffer.alloc(0);
  for (let i = 1; blocks.length * 32 < length; i++) {
    previous = createHmac("sha256", prk)
      .update(Buffer.concat([previous, info, Buffer.from([i])]))
      .digest();
    blocks.push(previous);
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** The h1 pseudonym computed straight from DESIGN §3, with the independent HKDF. */
function h1(masterKey: Buffer, kid: string, field: PiiField, canonical: Buffer): string {
  const key = hkdf(masterKey, Buffer.from("login-etl/pii"), Buffer.from(`h1|${field}|v1`), 32);
  return `h1.${kid}.${createHmac("sha256", key).update(canonical).digest("base64url")}`;
}

// RFC 5869 appendix A.1 (test case 1).
const RFC5869_1 = {
  ikm: unhex("0b".repeat(22)),
  salt: unhex("000102030405060708090a0b0c"),
  info: unhex("f0f1f2f3f4f5f6f7f8f9"),
  length: 42,
  prk: "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
  okm: "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
};

describe("HKDF-SHA256 and HMAC-SHA256 as the masking uses them", () => {
  it("crypto.hkdfSync gives the OKM of RFC 5869 test case 1", () => {
    const { ikm, salt, info, length, okm } = RFC5869_1;
    expect(Buffer.from(hkdfSync("sha256", ikm, salt, info, length)).toString("hex")).toBe(okm);
  });

  it("the test's own HKDF gives the PRK and OKM of RFC 5869 test case 1", () => {
    const { ikm, salt, info, length, prk, okm } = RFC5869_1;
    expect(createHmac("sha256", salt).update(ikm).digest("hex")).toBe(prk);
    expect(hkdf(ikm, salt, info, length).toString("hex")).toBe(okm);
  });

  it.each([
    [
      "1",
      unhex("0b".repeat(20)),
      Buffer.from("Hi There"),
      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    ],
    [
      "2",
      Buffer.from("Jefe"),
      Buffer.from("what do ya want for nothing?"),
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ],
  ])("HMAC-SHA256 under a KeyObject gives RFC 4231 test case %s", (_n, key, data, mac) => {
    expect(createHmac("sha256", createSecretKey(key)).update(data).digest("hex")).toBe(mac);
    expect(createHmac("sha256", key).update(data).digest("hex")).toBe(mac);
  });
});

describe("deriveFieldKey", () => {
  const master = Buffer.from(VECTOR_KEY_B64, "base64");

  it.each(["ip", "device_id"] as const)(
    "derives the %s key as HKDF-SHA256(master, salt login-etl/pii, info h1|<field>|v1, 32)",
    (field) => {
      const expected = hkdf(master, Buffer.from("login-etl/pii"), Buffer.from(`h1|${field}|v1`), 32);
      expect(deriveFieldKey(master, field).toString("hex")).toBe(expected.toString("hex"));
    },
  );

  it("gives each field its own 32-byte key", () => {
    const ip = deriveFieldKey(master, "ip");
    const deviceId = deriveFieldKey(master, "device_id");
    expect(ip).toHaveLength(32);
    expect(deviceId).toHaveLength(32);
    expect(ip.equals(deviceId)).toBe(false);
    expect(ip.equals(master)).toBe(false);
  });
});

describe("canonicalDeviceIdBytes", () => {
  it("is the UTF-8 of the trimmed value in NFC", () => {
    expect(canonicalDeviceIdBytes("  Cafe\u0301\n").toString("hex")).toBe(
      Buffer.from("Café").toString("hex"),
    );
    expect(canonicalDeviceIdBytes("593-47-5928")).toEqual(Buffer.from("593-47-5928"));
  });
});

describe("createMasker", () => {
  const masker = createMasker(vectorKeyring());

  describe("h1 test vectors (master key 00..1f, kid k1)", () => {
    it.each([
      ["ip", "199.172.111.135", "h1.k1.nXTkOBR7Ozxh45c45aeQBj6hAHm3OgR9H2-KfzLX1kw"],
      ["ip", "::ffff:199.172.111.135", "h1.k1.nXTkOBR7Ozxh45c45aeQBj6hAHm3OgR9H2-KfzLX1kw"],
      ["ip", "2001:db8::1", "h1.k1.GpDbYpeV_jBoGpFBINAXX00dnD4R2AmsJeiCdIo7Khg"],
      ["device_id", "593-47-5928", "h1.k1.Hc274JsXYMkmiwoGMheEjnFyLzBvfGxqmXcCudCCgbI"],
    ] as const)("masks %s %s as %s", (field, value, expected) => {
      expect(masker.mask(field, value)).toBe(expected);
    });

    it.each([
      ["ip", "199.172.111.135"],
      ["ip", "2001:db8::1"],
      ["device_id", "593-47-5928"],
    ] as const)("agrees with DESIGN §3 computed independently for %s %s", (field, value) => {
      const canonical = field === "ip" ? (canonicalIpBytes(value) as Buffer) : Buffer.from(value, "utf8");
      expect(masker.mask(field, value)).toBe(
        h1(Buffer.from(VECTOR_KEY_B64, "base64"), "k1", field, canonical),
      );
    });
  });

  it("masks every spelling of one address alike", () => {
    const expected = "h1.k1.nXTkOBR7Ozxh45c45aeQBj6hAHm3OgR9H2-KfzLX1kw";
    for (const spelling of [
      " 199.172.111.135 ",
      "\t199.172.111.135\r\n",
      "::FFFF:199.172.111.135",
      "::ffff:c7ac:6f87",
      "0:0:0:0:0:ffff:c7ac:6f87",
      "0000:0000:0000:0000:0000:FFFF:C7AC:6F87",
    ]) {
      expect(masker.mask("ip", spelling), spelling).toBe(expected);
    }
    expect(masker.mask("ip", "2001:0DB8:0:0:0:0:0:0001")).toBe(
      "h1.k1.GpDbYpeV_jBoGpFBINAXX00dnD4R2AmsJeiCdIo7Khg",
    );
  });

  it("masks a padded device_id like the trimmed one", () => {
    expect(masker.mask("device_id", "  593-47-5928\n")).toBe(
      "h1.k1.Hc274JsXYMkmiwoGMheEjnFyLzBvfGxqmXcCudCCgbI",
    );
  });

  it("masks NFC and NFD spellings of a device_id alike", () => {
    const nfc = "caf\u00e9-\u00c5ngstr\u00f6m";
    const nfd = nfc.normalize("NFD");
    expect(nfd).not.toBe(nfc);
    expect(masker.mask("device_id", nfd)).toBe(masker.mask("device_id", nfc));
  });

  it("does not fold case: device ids differing in case mask differently", () => {
    expect(masker.mask("device_id", "abc")).not.toBe(masker.mask("device_id", "ABC"));
  });

  it("keeps the fields apart: equal canonical bytes under ip and device_id mask differently", () => {
    const bytes = canonicalIpBytes("::1") as Buffer;
    const sameBytesAsText = String.fromCharCode(...bytes);
    expect(canonicalDeviceIdBytes(sameBytesAsText).equals(bytes)).toBe(true);
    expect(masker.mask("device_id", sameBytesAsText)).not.toBe(masker.mask("ip", "::1"));
  });

  it("gives different outputs under different keys, and names the kid", () => {
    const a = createMasker(keyringOf(keyringJson("a", 1)));
    const b = createMasker(keyringOf(keyringJson("a", 2)));
    expect(a.mask("ip", "10.0.0.1")).not.toBe(b.mask("ip", "10.0.0.1"));
    expect(a.mask("device_id", "x")).not.toBe(b.mask("device_id", "x"));
    expect(a.kid).toBe("a");
    expect(a.mask("ip", "10.0.0.1")).toMatch(/^h1\.a\./);
  });

  it("uses the primary key of a keyring that holds several", () => {
    const other = keyBytes(7).toString("base64");
    const ring = keyringOf(
      JSON.stringify({
        primary: "k1",
        keys: [
          { kid: "old", key: other },
          { kid: "k1", key: VECTOR_KEY_B64 },
        ],
      }),
    );
    expect(createMasker(ring).mask("device_id", "593-47-5928")).toBe(
      "h1.k1.Hc274JsXYMkmiwoGMheEjnFyLzBvfGxqmXcCudCCgbI",
    );
  });

  it("is deterministic across maskers made from the same keyring", () => {
    const again = createMasker(vectorKeyring());
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (value) => {
        expect(again.mask("device_id", value)).toBe(masker.mask("device_id", value));
      }),
      { numRuns: 200 },
    );
  });

  it.each([
    ["a", 1],
    ["0123456789abcdef", 16],
  ])("outputs 48 to 63 characters of the h1 format (kid %s)", (kid, kidLength) => {
    const m = createMasker(keyringOf(keyringJson(kid, 9)));
    fc.assert(
      fc.property(
        fc.oneof(fc.ipV4(), fc.ipV6()),
        fc.string({ unit: "binary", minLength: 1 }),
        (ip, deviceId) => {
          for (const out of [m.mask("ip", ip), m.mask("device_id", deviceId)]) {
            expect(out).toMatch(H1);
            expect(out).toHaveLength(47 + kidLength);
            expect((out as string).length).toBeGreaterThanOrEqual(48);
            expect((out as string).length).toBeLessThanOrEqual(63);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it.each(["", "1.2.3", "fe80::1%eth0", "not an ip"])("returns null for the invalid ip %j", (ip) => {
    expect(masker.mask("ip", ip)).toBeNull();
  });

  it("refuses a keyring whose primary names no key", () => {
    const broken: Keyring = { primary: "nope", keys: new Map([["k1", Buffer.alloc(32)]]) };
    expect(() => createMasker(broken)).toThrow(/primary/);
  });
});
