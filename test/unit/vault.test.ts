import { describe, expect, it } from "vitest";
import { canonicalBytes, createMasker, type PiiField } from "../../src/transform/mask.ts";
import { PII_CANONICAL, toRow } from "../../src/transform/toRow.ts";
import { newRecoveryKeyPair, parsePrivateKey, parsePublicKey } from "../../src/vault/keys.ts";
import { createOpener, VaultOpenError } from "../../src/vault/opener.ts";
import { renderIp } from "../../src/vault/render.ts";
import { createSealer, type Sealer } from "../../src/vault/sealer.ts";
import { createVaultWriter } from "../../src/vault/vaultWriter.ts";
import { VALID_EVENT, validated, vectorKeyring } from "./fixtures.ts";

function keyPair(kid = "r1") {
  const { privateJson, publicJson } = newRecoveryKeyPair(kid);
  const pub = parsePublicKey(publicJson);
  const priv = parsePrivateKey(privateJson);
  if (!("key" in pub) || !("key" in priv)) throw new Error("keygen output refused");
  return { pub: pub.key, priv: priv.key, privateJson, publicJson };
}

/** Seals one value, through the batch call the writer uses. */
function sealOne(sealer: Sealer, field: PiiField, pseudonym: string, canonical: Buffer) {
  const [entry] = sealer.sealAll([{ field, pseudonym, canonical }]);
  if (!entry) throw new Error("no entry sealed");
  return entry;
}

const problemsOf = (r: object) => ("problems" in r ? (r.problems as string[]) : []);

describe("recovery keys", () => {
  it("parses the public and private key files that keygen makes, and they match", () => {
    const { pub, priv } = keyPair("rk-2026");
    expect(pub.kid).toBe("rk-2026");
    expect(priv.publicKey).toEqual(pub.publicKey);
  });

  it("refuses a private key where the public key belongs, saying so without echoing it", () => {
    const { privateJson } = keyPair();
    const secret = JSON.parse(privateJson).private_key as string;
    const problems = problemsOf(parsePublicKey(privateJson));
    expect(problems.join()).toMatch(/holds a private key/);
    expect(problems.join()).not.toContain(secret);
  });

  it("names the field of a malformed key and never quotes the text", () => {
    expect(problemsOf(parsePublicKey('{"kid": "R!", "public_key": "AAAA"}')).join()).toMatch(
      /kid must match/,
    );
    expect(problemsOf(parsePublicKey('{"kid": "r1", "public_key": "AAAA"}')).join()).toMatch(
      /public_key must be the base64 of exactly 32 bytes/,
    );
    const garbage = "not json secret-ish";
    expect(problemsOf(parsePublicKey(garbage)).join()).not.toContain("secret-ish");
    expect(problemsOf(parsePrivateKey("{}")).join()).toMatch(/kid/);
  });
});

describe("sealing and opening", () => {
  const pseudonym = "h1.k1.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
  const value = canonicalBytes("ip", "2001:db8::1") as Buffer;

  it("opens what it sealed, with the matching private key", () => {
    const { pub, priv } = keyPair();
    const sealer = createSealer(pub);
    const entry = sealOne(sealer, "ip", pseudonym, value);
    expect(entry.sealed.includes(value)).toBe(false);
    expect(createOpener(priv).open(entry, sealer.dataKey(entry.dataKeyId))).toEqual(value);
  });

  it("refuses a value moved to another pseudonym or another field", () => {
    const { pub, priv } = keyPair();
    const sealer = createSealer(pub);
    const entry = sealOne(sealer, "ip", pseudonym, value);
    const opener = createOpener(priv);
    const dk = sealer.dataKey(entry.dataKeyId);
    expect(() => opener.open({ ...entry, pseudonym: `${pseudonym}X` }, dk)).toThrow(/moved/);
    expect(() => opener.open({ ...entry, field: "device_id" }, dk)).toThrow(VaultOpenError);
  });

  it("refuses a tampered sealed value or nonce", () => {
    const { pub, priv } = keyPair();
    const sealer = createSealer(pub);
    const entry = sealOne(sealer, "ip", pseudonym, value);
    const dk = sealer.dataKey(entry.dataKeyId);
    const sealed = Buffer.from(entry.sealed);
    sealed[0] = (sealed[0] as number) ^ 0x80;
    const nonce = Buffer.from(entry.nonce);
    nonce[11] = (nonce[11] as number) ^ 1;
    const opener = createOpener(priv);
    expect(() => opener.open({ ...entry, sealed }, dk)).toThrow(/altered/);
    expect(() => opener.open({ ...entry, nonce }, dk)).toThrow(/altered/);
  });

  it("refuses another private key, whether its kid differs or not, as a wrong key", () => {
    const { pub } = keyPair("r1");
    const sealer = createSealer(pub);
    const entry = sealOne(sealer, "ip", pseudonym, value);
    const dk = sealer.dataKey(entry.dataKeyId);
    const fail = (priv: ReturnType<typeof keyPair>["priv"]) => {
      try {
        createOpener(priv).open(entry, dk);
      } catch (err) {
        return (err as VaultOpenError).failure;
      }
      return "opened";
    };
    expect(fail(keyPair("r2").priv)).toBe("wrong_key");
    expect(fail(keyPair("r1").priv)).toBe("wrong_key");
  });

  it("refuses a data key whose id was changed (the id is the wrapping's aad)", () => {
    const { pub, priv } = keyPair();
    const sealer = createSealer(pub);
    const entry = sealOne(sealer, "ip", pseudonym, value);
    const dk = { ...sealer.dataKey(entry.dataKeyId), id: "another-id" };
    expect(() => createOpener(priv).open(entry, dk)).toThrow(/does not open data key/);
  });

  it("gives every value its own nonce, within a batch, across batches and across refills of the nonce pool", () => {
    const sealer = createSealer(keyPair().pub);
    const value = (i: number) => ({
      field: "ip" as const,
      pseudonym: `p${i}`,
      canonical: Buffer.alloc(16, i),
    });
    const nonces = new Set<string>();
    for (let batch = 0; batch < 5; batch++) {
      for (const e of sealer.sealAll(Array.from({ length: 2_000 }, (_, i) => value(batch * 2_000 + i)))) {
        expect(e.nonce.length).toBe(12);
        nonces.add(e.nonce.toString("hex"));
      }
    }
    expect(nonces.size).toBe(10_000); // the pool holds 4,096 nonces: two refills and more
  });

  it("refuses a data-key limit below one value", () => {
    expect(() => createSealer(keyPair().pub, { maxValuesPerKey: 0 })).toThrow(/maxValuesPerKey/);
  });

  it("makes a new data key after the configured number of values", () => {
    const { pub, priv } = keyPair();
    const sealer = createSealer(pub, { maxValuesPerKey: 2 });
    const value = (i: number) => ({
      field: "device_id" as const,
      pseudonym: `p${i}`,
      canonical: Buffer.from(`dev-${i}`),
    });
    // One value, then a batch of four that crosses two data keys' limits.
    const entries = [...sealer.sealAll([value(1)]), ...sealer.sealAll([2, 3, 4, 5].map(value))];
    expect(entries.map((e) => e.pseudonym)).toEqual(["p1", "p2", "p3", "p4", "p5"]);
    expect(new Set(entries.map((e) => e.dataKeyId)).size).toBe(3);
    const opener = createOpener(priv);
    entries.forEach((e, i) => {
      expect(opener.open(e, sealer.dataKey(e.dataKeyId)).toString()).toBe(`dev-${i + 1}`);
    });
  });
});

describe("the vault writer", () => {
  const masker = createMasker(vectorKeyring());
  const row = (ip: string, deviceId: string, id: string) =>
    toRow(validated({ ...VALID_EVENT, ip, device_id: deviceId }), id, Date.UTC(2024, 4, 17), masker, true);

  it("seals one entry per distinct pseudonym of a batch, and none for pseudonyms already committed", () => {
    const writer = createVaultWriter(createSealer(keyPair().pub));
    const first = writer.entriesFor([row("10.0.0.1", "d1", "m1"), row("::ffff:10.0.0.1", "d1", "m2")]);
    expect(first.entries.map((e) => e.field)).toEqual(["ip", "device_id"]);
    expect(first.dataKeys).toHaveLength(1);
    // Not yet committed: a retried batch seals them again.
    expect(writer.entriesFor([row("10.0.0.1", "d1", "m1")]).entries).toHaveLength(2);
    writer.committed(first);
    const next = writer.entriesFor([row("10.0.0.1", "d2", "m3")]);
    expect(next.entries.map((e) => e.field)).toEqual(["device_id"]);
  });

  it("forgets the oldest pseudonyms beyond its bound (per field)", () => {
    const writer = createVaultWriter(createSealer(keyPair().pub), 1);
    writer.committed(writer.entriesFor([row("10.0.0.1", "d1", "m1"), row("10.0.0.2", "d1", "m2")]));
    expect(writer.entriesFor([row("10.0.0.1", "d1", "m3")]).entries).toHaveLength(1);
  });

  it("keeps the canonical bytes out of JSON", () => {
    const r = row("10.0.0.1", "canary-device", "m1");
    expect(r[PII_CANONICAL]?.device_id.toString()).toBe("canary-device");
    expect(JSON.stringify(r)).not.toContain("canary-device");
    expect(Object.keys(r)).not.toContain(String(PII_CANONICAL));
  });
});

describe("rendering an address", () => {
  const render = (text: string) => renderIp(canonicalBytes("ip", text) as Buffer);
  it("prints IPv4 and IPv4-mapped addresses as a dotted quad", () => {
    expect(render("199.172.111.135")).toBe("199.172.111.135");
    expect(render("::FFFF:199.172.111.135")).toBe("199.172.111.135");
  });
  it("prints other IPv6 addresses in RFC 5952 form", () => {
    expect(render("2001:0DB8:0000:0000:0000:0000:0000:0001")).toBe("2001:db8::1");
    expect(render("2001:db8:0:0:1:0:0:1")).toBe("2001:db8::1:0:0:1");
    expect(render("2001:db8:0:1:1:1:1:1")).toBe("2001:db8:0:1:1:1:1:1");
    expect(render("::")).toBe("::");
    expect(render("::1")).toBe("::1");
    expect(render("fe80::")).toBe("fe80::");
    expect(render("::192.0.2.1")).toBe("::c000:201");
  });
});
