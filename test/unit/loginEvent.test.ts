import { describe, expect, it } from "vitest";
import {
  type Decoded,
  decodeLoginEvent,
  isValidDeviceId,
  MAX_BODY_BYTES,
  REJECTION_CODES,
  type RejectionCode,
} from "../../src/transform/loginEvent.ts";
import { VALID_EVENT } from "./fixtures.ts";

type Body = Record<string, unknown>;

const FIELD_NAMES = new Set(["user_id", "device_type", "ip", "device_id", "locale", "app_version"]);

/** Every string (not a field name) and number of at least `min` characters in a JSON value. */
function valuesIn(value: unknown, min: number, out: string[] = []): string[] {
  if (typeof value === "string") {
    if (value.length >= min) out.push(value);
  } else if (typeof value === "number") {
    if (String(value).length >= min) out.push(String(value));
  } else if (Array.isArray(value)) {
    for (const v of value) valuesIn(v, min, out);
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (!FIELD_NAMES.has(k) && k.length >= min) out.push(k);
      valuesIn(v, min, out);
    }
  }
  return out;
}

/** The event's body with `changes` applied; an `undefined` change removes the field. */
function bodyWith(changes: Body): string {
  const body: Body = { ...VALID_EVENT, ...changes };
  for (const [k, v] of Object.entries(changes)) if (v === undefined) delete body[k];
  return JSON.stringify(body);
}

function rejectionOf(decoded: Decoded) {
  if (!("rejection" in decoded)) throw new Error("expected a rejection, got an event");
  return decoded.rejection;
}

function eventOf(decoded: Decoded) {
  if (!("event" in decoded)) throw new Error(`expected an event, got ${JSON.stringify(decoded.rejection)}`);
  return decoded.event;
}

/** Decodes `body`, expects `code` (and `field`), and that the detail quotes no value of the body. */
function expectRejected(body: string, code: RejectionCode, field?: string) {
  const rejection = rejectionOf(decodeLoginEvent(body));
  expect(rejection.code).toBe(code);
  expect(rejection.field).toBe(field);
  if (field) expect(rejection.detail).toContain(field);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = body;
  }
  for (const value of valuesIn(parsed, 4)) expect(rejection.detail).not.toContain(value);
  return rejection;
}

/** A valid event body padded (in an unknown field) to exactly `bytes` UTF-8 bytes with `unit` characters. */
function paddedBody(bytes: number, unit: string): string {
  const base = JSON.stringify({ ...VALID_EVENT, pad: "" });
  const room = bytes - Buffer.byteLength(base);
  const unitBytes = Buffer.byteLength(unit);
  const pad = unit.repeat(Math.floor(room / unitBytes)) + "x".repeat(room % unitBytes);
  const body = JSON.stringify({ ...VALID_EVENT, pad });
  expect(Buffer.byteLength(body)).toBe(bytes);
  return body;
}

describe("decodeLoginEvent", () => {
  describe("a valid body", () => {
    it("decodes the example event of DESIGN §1", () => {
      expect(eventOf(decodeLoginEvent(JSON.stringify(VALID_EVENT)))).toEqual(VALID_EVENT);
    });

    it("accepts a null locale and stores it as null", () => {
      expect(eventOf(decodeLoginEvent(bodyWith({ locale: null }))).locale).toBeNull();
    });

    it("accepts an absent locale and stores it as null", () => {
      expect(eventOf(decodeLoginEvent(bodyWith({ locale: undefined }))).locale).toBeNull();
    });

    it("accepts an empty locale string", () => {
      expect(eventOf(decodeLoginEvent(bodyWith({ locale: "" }))).locale).toBe("");
    });

    it("ignores unknown extra fields and does not carry them into the event", () => {
      const event = eventOf(
        decodeLoginEvent(bodyWith({ foo: "oops_wrong_msg_type", nested: { a: [1, 2] }, __proto__x: 1 })),
      );
      expect(Object.keys(event).sort()).toEqual(Object.keys(VALID_EVENT).sort());
    });

    it("ignores an own __proto__ field", () => {
      const body = `{"__proto__": {"user_id": 5}, ${JSON.stringify(VALID_EVENT).slice(1)}`;
      expect(eventOf(decodeLoginEvent(body))).toEqual(VALID_EVENT);
    });

    it("decodes two identical bodies to two equal events", () => {
      const body = JSON.stringify(VALID_EVENT);
      expect(decodeLoginEvent(body)).toEqual(decodeLoginEvent(body));
    });

    it("keeps ip and device_id as received (white space included); masking canonicalises them", () => {
      const event = eventOf(decodeLoginEvent(bodyWith({ ip: " 1.2.3.4\n", device_id: "\tabc " })));
      expect(event.ip).toBe(" 1.2.3.4\n");
      expect(event.device_id).toBe("\tabc ");
    });

    it.each([
      ["IPv4", "0.0.0.0"],
      ["IPv6", "2001:db8::1"],
      ["IPv4-mapped IPv6", "::ffff:199.172.111.135"],
      ["upper-case IPv6", "FE80::1"],
      ["IPv4 in white space", "  10.1.2.3\t"],
    ])("accepts an %s ip", (_kind, ip) => {
      expect(eventOf(decodeLoginEvent(bodyWith({ ip }))).ip).toBe(ip);
    });
  });

  describe("body size", () => {
    it("rejects a 16385-byte non-JSON body as body_too_large, not invalid_json", () => {
      expectRejected("x".repeat(MAX_BODY_BYTES + 1), "body_too_large");
    });

    it("accepts a valid body of exactly 16384 bytes", () => {
      expect(MAX_BODY_BYTES).toBe(16384);
      eventOf(decodeLoginEvent(paddedBody(16384, "x")));
    });

    it("rejects a valid body of 16385 bytes as body_too_large", () => {
      expectRejected(paddedBody(16385, "x"), "body_too_large");
    });

    it.each([
      ["2-byte", "é"],
      ["3-byte", "€"],
      ["4-byte (surrogate pair)", "😀"],
    ])("counts %s UTF-8 characters in bytes, not UTF-16 units", (_kind, unit) => {
      const atLimit = paddedBody(16384, unit);
      const over = paddedBody(16385, unit);
      expect(over.length).toBeLessThan(16384);
      eventOf(decodeLoginEvent(atLimit));
      expectRejected(over, "body_too_large");
    });

    it("counts a lone surrogate as the 3 bytes UTF-8 gives it", () => {
      const body = "\ud800".repeat(5462);
      expect(Buffer.byteLength(body)).toBe(16386);
      expectRejected(body, "body_too_large");
    });
  });

  describe("invalid_json and not_an_object", () => {
    it.each([
      ["an empty body", ""],
      ["white space", "  \n"],
      ["plain text", "login of user 424cdd21"],
      ["a truncated object", '{"user_id": "424cdd21-063a'],
      ["single quotes", "{'user_id': 'abc'}"],
      ["trailing garbage", `${JSON.stringify(VALID_EVENT)}xyz`],
      ["two objects", `${JSON.stringify(VALID_EVENT)}${JSON.stringify(VALID_EVENT)}`],
      ["a byte order mark", `\ufeff${JSON.stringify(VALID_EVENT)}`],
    ])("rejects %s as invalid_json", (_why, body) => {
      expectRejected(body, "invalid_json");
    });

    it("does not quote a non-JSON body in the detail", () => {
      const rejection = expectRejected("secret-device-593-47-5928 !", "invalid_json");
      expect(rejection.detail).not.toMatch(/secret|593/);
    });

    it.each([
      ["an array", "[1,2]"],
      ["an array of an event", `[${JSON.stringify(VALID_EVENT)}]`],
      ["a string", '"199.172.111.135"'],
      ["a number", "424242"],
      ["null", "null"],
      ["true", "true"],
    ])("rejects %s as not_an_object", (_why, body) => {
      const rejection = expectRejected(body, "not_an_object");
      expect(rejection.detail).not.toContain("199.172");
      expect(rejection.detail).not.toContain("424242");
    });

    it("rejects a body of another shape as missing_field user_id", () => {
      expectRejected('{"foo": "oops_wrong_msg_type", "bar": "123"}', "missing_field", "user_id");
    });
  });

  describe("missing_field", () => {
    it.each(["user_id", "device_type", "ip", "device_id", "app_version"])("rejects an absent %s", (field) => {
      expectRejected(bodyWith({ [field]: undefined }), "missing_field", field);
    });

    it.each(["user_id", "device_type", "ip", "device_id", "app_version"])("rejects a null %s", (field) => {
      expectRejected(bodyWith({ [field]: null }), "missing_field", field);
    });

    it("reports the first missing field in the order user_id, device_type, ip, device_id, app_version", () => {
      const order = ["user_id", "device_type", "ip", "device_id", "app_version"];
      for (let i = 0; i < order.length; i++) {
        const gone = Object.fromEntries(order.slice(i).map((f) => [f, undefined]));
        expectRejected(bodyWith(gone), "missing_field", order[i]);
      }
    });

    it("rejects an empty object as missing_field user_id", () => {
      expectRejected("{}", "missing_field", "user_id");
    });

    it("beats invalid_ip: a missing app_version wins over a bad ip", () => {
      expectRejected(bodyWith({ ip: "999.1.1.1", app_version: undefined }), "missing_field", "app_version");
    });

    it("beats invalid_field: a missing device_id wins over a bad user_id", () => {
      expectRejected(bodyWith({ user_id: "", device_id: null }), "missing_field", "device_id");
    });

    it("treats a present but empty required string as invalid, not missing", () => {
      expectRejected(bodyWith({ user_id: "" }), "invalid_field", "user_id");
      expectRejected(bodyWith({ ip: "" }), "invalid_ip", "ip");
    });
  });

  describe("invalid_ip", () => {
    it.each([
      ["a number", 3338907527],
      ["an array", ["199.172.111.135"]],
      ["an object", { v4: "199.172.111.135" }],
      ["a boolean", true],
    ])("rejects an ip that is %s", (_kind, ip) => {
      expectRejected(bodyWith({ ip }), "invalid_ip", "ip");
    });

    it.each([
      ["a leading zero", "199.172.011.135"],
      ["a part over 255", "199.172.111.256"],
      ["three parts", "199.172.111"],
      ["a port", "199.172.111.135:443"],
      ["an IPv6 zone", "fe80::1%eth0"],
      ["an IPv6 prefix length", "2001:db8::/64"],
      ["brackets", "[2001:db8::1]"],
      ["two addresses", "199.172.111.135, 10.0.0.1"],
      ["a host name", "localhost"],
      ["white space only", "   "],
    ])("rejects an ip string with %s", (_why, ip) => {
      const rejection = expectRejected(bodyWith({ ip }), "invalid_ip", "ip");
      expect(rejection.detail).not.toContain("199.172");
    });

    it("beats invalid_field: a bad ip wins over a bad user_id", () => {
      expectRejected(bodyWith({ user_id: 42, device_type: "", ip: "1.2.3" }), "invalid_ip", "ip");
    });
  });

  describe("invalid_field", () => {
    it("accepts a user_id of exactly 128 characters and rejects 129", () => {
      eventOf(decodeLoginEvent(bodyWith({ user_id: "u".repeat(128) })));
      expectRejected(bodyWith({ user_id: "u".repeat(129) }), "invalid_field", "user_id");
    });

    // DESIGN §2: "Lengths count JavaScript string length (UTF-16 code units)"; an
    // astral character such as 😀 is two units.
    it.each([
      ["user_id", 128],
      ["device_type", 32],
      ["device_id", 256],
      ["locale", 32],
    ])("counts %s length in UTF-16 code units (limit %i)", (field, limit) => {
      const atLimit = "😀".repeat(limit / 2);
      expect(atLimit).toHaveLength(limit);
      eventOf(decodeLoginEvent(bodyWith({ [field]: atLimit })));
      expectRejected(bodyWith({ [field]: `${atLimit}a` }), "invalid_field", field);
      expectRejected(bodyWith({ [field]: `${atLimit}😀` }), "invalid_field", field);
    });

    it("accepts a device_type of exactly 32 characters and rejects 33", () => {
      eventOf(decodeLoginEvent(bodyWith({ device_type: "d".repeat(32) })));
      expectRejected(bodyWith({ device_type: "d".repeat(33) }), "invalid_field", "device_type");
    });

    it("accepts a device_id of exactly 256 characters after trimming and rejects 257", () => {
      eventOf(decodeLoginEvent(bodyWith({ device_id: `  ${"i".repeat(256)}\n\t` })));
      expectRejected(bodyWith({ device_id: "i".repeat(257) }), "invalid_field", "device_id");
    });

    it("accepts a locale of exactly 32 characters and rejects 33", () => {
      eventOf(decodeLoginEvent(bodyWith({ locale: "l".repeat(32) })));
      expectRejected(bodyWith({ locale: "l".repeat(33) }), "invalid_field", "locale");
    });

    it("accepts an app_version of exactly 32 characters and rejects 33", () => {
      const v32 = `1.2.${"3".repeat(28)}`;
      expect(v32).toHaveLength(32);
      eventOf(decodeLoginEvent(bodyWith({ app_version: v32 })));
      expectRejected(bodyWith({ app_version: `${v32}3` }), "invalid_field", "app_version");
    });

    it.each([
      ["user_id", 42],
      ["user_id", {}],
      ["device_type", true],
      ["device_type", ["android"]],
      ["device_id", 593475928],
      ["device_id", { id: "x" }],
      ["locale", 7],
      ["locale", ["RU"]],
      ["app_version", 2.3],
      ["app_version", ["2", "3"]],
    ])("rejects a %s of the wrong type (%j)", (field, value) => {
      expectRejected(bodyWith({ [field]: value }), "invalid_field", field);
    });

    it.each([
      ["user_id", ""],
      ["device_type", ""],
      ["device_id", ""],
      ["device_id", " \t\n\u00a0\u3000"],
    ])("rejects an empty %s (%j)", (field, value) => {
      expectRejected(bodyWith({ [field]: value }), "invalid_field", field);
    });

    it.each([
      ["NUL", "abc\u0000def"],
      ["a unit separator", "abc\u001fdef"],
      ["DEL", "abc\u007fdef"],
      ["a C1 control (NEL)", "abc\u0085"],
      ["a C1 control (APC)", "\u009fabc"],
      ["an interior tab", "abc\tdef"],
      ["an interior newline", "abc\ndef"],
    ])("rejects a device_id holding %s", (_what, deviceId) => {
      expectRejected(bodyWith({ device_id: deviceId }), "invalid_field", "device_id");
    });

    it("accepts a device_id whose control characters are surrounding white space that trimming removes", () => {
      eventOf(decodeLoginEvent(bodyWith({ device_id: "\t\n593-47-5928\r\n" })));
    });

    it.each([["7"], ["0.96"], ["2.00"], ["1.2.3"], ["1.8.0"], ["10.20.30"], ["0"]])(
      "accepts the app_version %s",
      (appVersion) => {
        expect(eventOf(decodeLoginEvent(bodyWith({ app_version: appVersion }))).app_version).toBe(appVersion);
      },
    );

    it.each([
      ["four parts", "1.2.3.4"],
      ["an empty part", "1..2"],
      ["a prefix", "v1"],
      ["a trailing dot", "1.2."],
      ["a leading dot", ".1"],
      ["a sign", "-1"],
      ["an exponent", "1e3"],
      ["white space", " 1.2"],
      ["a trailing newline", "1.2\n"],
      ["a suffix", "1.2.3-beta"],
      ["non-ASCII digits", "١.٢"],
      ["the empty string", ""],
    ])("rejects an app_version with %s (%j)", (_why, appVersion) => {
      expectRejected(bodyWith({ app_version: appVersion }), "invalid_field", "app_version");
    });

    it("reports the first bad field in the order user_id, device_type, device_id, locale, app_version", () => {
      const bad: Array<[string, unknown]> = [
        ["user_id", ""],
        ["device_type", "d".repeat(33)],
        ["device_id", "a\u0000b"],
        ["locale", 7],
        ["app_version", "v1"],
      ];
      for (let i = 0; i < bad.length; i++) {
        for (let j = i + 1; j < bad.length; j++) {
          const [first, firstValue] = bad[i] as [string, unknown];
          const [second, secondValue] = bad[j] as [string, unknown];
          // Written in reverse order in the body: the order of the JSON must not matter.
          const body = JSON.stringify({
            [second]: secondValue,
            ...VALID_EVENT,
            [first]: firstValue,
            [second]: secondValue,
          });
          expectRejected(body, "invalid_field", first);
        }
      }
    });

    // DESIGN §2: every string must be well-formed text (PostgreSQL text cannot store U+0000).
    it.each([["user_id"], ["device_type"], ["locale"], ["device_id"]])(
      "rejects a %s containing U+0000 as invalid_field (PostgreSQL cannot store NUL)",
      (field) => {
        const rejection = expectRejected(bodyWith({ [field]: "abc\u0000def" }), "invalid_field", field);
        expect(rejection.detail).toMatch(/U\+0000|control characters/);
      },
    );

    // Bug: "dev\uD800", "dev\uDC00" and "dev\uFFFD" got one pseudonym, and such user_ids were stored as U+FFFD.
    it.each([
      ["user_id", "user-\\ud800"],
      ["device_type", "ios\\udc00"],
      ["device_id", "dev\\uD800"],
      ["device_id", "dev\\uDC00x"],
      ["locale", "ru\\udfff"],
    ])("rejects a %s holding a lone surrogate (JSON escape %s) as invalid_field", (field, escaped) => {
      const body = bodyWith({ [field]: "PLACEHOLDER" }).replace("PLACEHOLDER", escaped);
      const rejection = expectRejected(body, "invalid_field", field);
      expect(rejection.detail).toContain("lone UTF-16 surrogate");
    });

    it("rejects an ip holding a lone surrogate as invalid_ip, and accepts a well-formed pair elsewhere", () => {
      expectRejected(
        bodyWith({ ip: "PLACEHOLDER" }).replace("PLACEHOLDER", "10.0.0.1\\ud800"),
        "invalid_ip",
        "ip",
      );
      const pair = bodyWith({ device_id: "PLACEHOLDER" }).replace("PLACEHOLDER", "dev\\ud83d\\ude00");
      expect(eventOf(decodeLoginEvent(pair)).device_id).toBe("dev\u{1F600}");
    });

    it("never quotes the bad value in the detail", () => {
      const rejection = expectRejected(
        bodyWith({ user_id: `secret-user-${"z".repeat(200)}` }),
        "invalid_field",
        "user_id",
      );
      expect(rejection.detail).not.toContain("secret");
    });
  });

  it("only ever returns codes of REJECTION_CODES, in the order of DESIGN §2", () => {
    expect(REJECTION_CODES).toEqual([
      "body_too_large",
      "invalid_json",
      "not_an_object",
      "missing_field",
      "invalid_ip",
      "invalid_field",
    ]);
  });
});

describe("isValidDeviceId", () => {
  it("applies the device_id rule of DESIGN §2 on its own", () => {
    expect(isValidDeviceId("593-47-5928")).toBe(true);
    expect(isValidDeviceId(`  ${"i".repeat(256)} `)).toBe(true);
    expect(isValidDeviceId("i".repeat(257))).toBe(false);
    expect(isValidDeviceId("   ")).toBe(false);
    expect(isValidDeviceId("a\u0007b")).toBe(false);
  });
});
