import { describe, expect, it } from "vitest";
import { canonicalBytes, createMasker } from "../../src/transform/mask.ts";
import { appVersionNumber, PII_CANONICAL, toRow, utcDate } from "../../src/transform/toRow.ts";
import { VALID_EVENT, VALID_ROW, validated, vectorKeyring } from "./fixtures.ts";

describe("appVersionNumber", () => {
  it.each([
    ["2.3.0", 20300],
    ["0.96", 9600],
    ["2.00", 20000],
    ["7", 70000],
    ["1.8.0", 10800],
    ["1.2.3", 10203],
    ["99.99.99", 999999],
    ["0", 0],
    ["0.0.0", 0],
    ["01.02.03", 10203],
  ])("packs %s as %i", (text, number) => {
    expect(appVersionNumber(text)).toBe(number);
  });

  it.each([["1.100"], ["100.0"], ["1.2.100"], ["100"], ["99999999999999999999.1"]])(
    "gives null for %s, which has a part over 99 (never a lossy number)",
    (text) => {
      expect(appVersionNumber(text)).toBeNull();
    },
  );
});

describe("utcDate", () => {
  it("gives the UTC calendar date of an epoch time in milliseconds", () => {
    expect(utcDate(0)).toBe("1970-01-01");
    expect(utcDate(Date.UTC(2024, 1, 29, 12))).toBe("2024-02-29");
  });

  it("changes date at UTC midnight, whatever the local time zone", () => {
    expect(utcDate(Date.UTC(2024, 11, 31, 23, 59, 59, 999))).toBe("2024-12-31");
    expect(utcDate(Date.UTC(2025, 0, 1, 0, 0, 0, 0))).toBe("2025-01-01");
  });
});

describe("toRow", () => {
  const masker = createMasker(vectorKeyring());
  const sentAt = Date.UTC(2024, 4, 17, 23, 30);

  it("maps a valid event to a user_logins row with masked ip and device_id, holding no raw bytes", () => {
    const row = toRow(validated(VALID_EVENT), "msg-1", sentAt, masker);
    expect(row).toEqual(VALID_ROW);
    expect(row[PII_CANONICAL]).toBeUndefined();
  });

  it("keeps the canonical bytes only for the vault", () => {
    expect(toRow(validated(VALID_EVENT), "msg-1", sentAt, masker, true)).toEqual({
      ...VALID_ROW,
      // For the vault (§3b), under a symbol key that JSON and logs never see.
      [PII_CANONICAL]: {
        ip: canonicalBytes("ip", VALID_EVENT.ip),
        device_id: canonicalBytes("device_id", VALID_EVENT.device_id),
      },
    });
  });

  it("keeps a null locale null and the app_version text exactly as received", () => {
    const row = toRow(validated({ ...VALID_EVENT, locale: null, app_version: "2.00" }), "m", sentAt, masker);
    expect(row.locale).toBeNull();
    expect(row.app_version).toBe(20000);
    expect(row.app_version_text).toBe("2.00");
  });

  it("stores a null app_version with the text when a part is over 99", () => {
    const row = toRow(validated({ ...VALID_EVENT, app_version: "1.100" }), "m", sentAt, masker);
    expect(row.app_version).toBeNull();
    expect(row.app_version_text).toBe("1.100");
  });

  it("never stores the raw ip or device_id", () => {
    const row = toRow(validated(VALID_EVENT), "m", sentAt, masker);
    expect(JSON.stringify(row)).not.toContain(VALID_EVENT.ip);
    expect(JSON.stringify(row)).not.toContain(VALID_EVENT.device_id);
  });

  it("masks the canonical bytes validation parsed, so every spelling of one address and device gives one row value", () => {
    const spelled = toRow(
      validated({ ...VALID_EVENT, ip: " ::ffff:199.172.111.135 ", device_id: " 593-47-5928\n" }),
      "m",
      sentAt,
      masker,
    );
    const plain = toRow(validated(VALID_EVENT), "m", sentAt, masker);
    expect(spelled.masked_ip).toBe(plain.masked_ip);
    expect(spelled.masked_device_id).toBe(plain.masked_device_id);
  });
});
