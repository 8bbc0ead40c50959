// Property-based fuzzing of the path a message body takes through the pure code:
// decodeLoginEvent, then the h1 masking of an accepted event. A reference model
// written straight from DESIGN §2 (node:net and the WHATWG URL parser for
// addresses) says what the outcome must be.
import { isIPv4 } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { copyPayload } from "../../src/postgres/postgresSink.ts";
import {
  type Decoded,
  decodeLoginEvent,
  REJECTION_CODES,
  type RejectionCode,
} from "../../src/transform/loginEvent.ts";
import { createMasker } from "../../src/transform/mask.ts";
import { toRow } from "../../src/transform/toRow.ts";
import { H1, VALID_EVENT, vectorKeyring } from "./fixtures.ts";

const masker = createMasker(vectorKeyring());
const FIELDS = ["user_id", "device_type", "ip", "device_id", "locale", "app_version"] as const;
const REQUIRED = ["user_id", "device_type", "ip", "device_id", "app_version"] as const;
/** Unicode general category Cc: U+0000..U+001F and U+007F..U+009F. */
const hasControl = (s: string) =>
  [...s].some((c) => {
    const n = c.codePointAt(0) as number;
    return n <= 0x1f || (n >= 0x7f && n <= 0x9f);
  });

// ---- the reference model: DESIGN §2, read literally ----

function modelIpValid(value: unknown): boolean {
  if (typeof value !== "string") return false;
  const text = value.trim();
  if (isIPv4(text)) return true;
  if (!/^[0-9A-Fa-f:.]+$/.test(text)) return false;
  try {
    new URL(`http://[${text}]`);
    return true;
  } catch {
    return false;
  }
}

const isString = (v: unknown): v is string => typeof v === "string";
/** §2: well-formed text, no lone surrogate and no U+0000 (PostgreSQL text cannot hold it). */
const noNul = (s: string) => !s.includes("\u0000") && s.isWellFormed();

const MODEL_RULES: Array<[string, (v: unknown) => boolean]> = [
  ["user_id", (v) => isString(v) && v.length >= 1 && v.length <= 128 && noNul(v)],
  ["device_type", (v) => isString(v) && v.length >= 1 && v.length <= 32 && noNul(v)],
  [
    "device_id",
    (v) =>
      isString(v) &&
      v.trim().length >= 1 &&
      v.trim().length <= 256 &&
      !hasControl(v.trim()) &&
      noNul(v.trim()),
  ],
  ["locale", (v) => v === undefined || v === null || (isString(v) && v.length <= 32 && noNul(v))],
  ["app_version", (v) => isString(v) && v.length <= 32 && /^[0-9]+(\.[0-9]+){0,2}$/.test(v)],
];

type Outcome = { accepted: true } | { code: RejectionCode; field?: string };

function model(body: string): Outcome {
  if (Buffer.byteLength(body, "utf8") > 16 * 1024) return { code: "body_too_large" };
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return { code: "invalid_json" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { code: "not_an_object" };
  const fields = new Map(Object.entries(value));
  for (const f of REQUIRED) {
    if (!fields.has(f) || fields.get(f) === null) return { code: "missing_field", field: f };
  }
  if (!modelIpValid(fields.get("ip"))) return { code: "invalid_ip", field: "ip" };
  for (const [f, ok] of MODEL_RULES) if (!ok(fields.get(f))) return { code: "invalid_field", field: f };
  return { accepted: true };
}

// ---- what may never appear in a rejection detail ----

/** Strings and numbers of the body, at least 6 characters long; field names may be named. */
function bodyTokens(body: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    // Not JSON: any 6-character stretch of it.
    const windows: string[] = [];
    for (let i = 0; i + 6 <= body.length; i++) windows.push(body.slice(i, i + 6));
    return windows;
  }
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (typeof v === "string") {
      if (v.length >= 6) out.push(v);
    } else if (typeof v === "number") {
      if (String(v).length >= 6) out.push(String(v));
    } else if (Array.isArray(v)) {
      v.forEach(walk);
    } else if (v !== null && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        if (!(FIELDS as readonly string[]).includes(k) && k.length >= 6) out.push(k);
        walk(x);
      }
    }
  };
  walk(value);
  return out;
}

// ---- generators ----

/** Any string: ASCII, full Unicode, lone surrogates, and JSON-ish punctuation soups. */
const anyString = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.string({ unit: "binary", maxLength: 60 }),
  fc.string({ unit: "grapheme", maxLength: 60 }),
  fc
    .array(fc.integer({ min: 0xd7f0, max: 0xe00f }), { maxLength: 20 })
    .map((units) => String.fromCharCode(...units)),
  fc
    .array(fc.constantFrom("{", "}", "[", "]", '"', ":", ",", "\\", "null", "1", " ", "\u0000", "é"), {
      maxLength: 30,
    })
    .map((a) => a.join("")),
);

const whitespace = fc.constantFrom("", " ", "\t", "\n", "\r\n", "\u00a0", "\u2003", "\ufeff");
const padded = (arb: fc.Arbitrary<string>) =>
  fc.tuple(whitespace, arb, whitespace).map(([a, s, b]) => a + s + b);

const validIp = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.ipV6().map((s) => s.toUpperCase()),
  fc.ipV4().map((s) => `::ffff:${s}`),
  padded(fc.ipV4()),
  padded(fc.ipV6()),
);
const nearIp = fc.oneof(
  fc.ipV4Extended(),
  fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 65535 })).map(([ip, port]) => `${ip}:${port}`),
  fc.ipV6().map((s) => `${s}%eth0`),
  fc.ipV6().map((s) => `${s}/64`),
  fc.ipV6().map((s) => `[${s}]`),
  fc.tuple(fc.ipV6(), fc.ipV6()).map(([a, b]) => `${a}::${b}`),
  fc.ipV4().map((s) => s.replace(".", ". ")),
  fc
    .array(fc.constantFrom("1", "a", "ffff", "12345", ":", "::", ".", "255", "256", "01"), { maxLength: 14 })
    .map((a) => a.join("")),
);

/** A string of about `limit` characters, sometimes with astral (two-unit) characters. */
const aroundLimit = (limit: number) =>
  fc
    .tuple(fc.integer({ min: Math.max(0, limit - 3), max: limit + 3 }), fc.constantFrom("x", "é", "😀", " "))
    .map(([n, c]) =>
      c === "😀" ? "😀".repeat(Math.floor(n / 2)) + "x".repeat(n % 2) : `a${c.repeat(Math.max(0, n - 1))}`,
    );

const controlChar = fc
  .integer({ min: 0, max: 0x9f })
  .filter((c) => c < 0x20 || c >= 0x7f)
  .map((c) => String.fromCharCode(c));

const appVersion = fc.oneof(
  fc.array(fc.nat({ max: 120 }), { minLength: 1, maxLength: 3 }).map((p) => p.join(".")),
  fc.array(fc.nat({ max: 120 }), { minLength: 4, maxLength: 5 }).map((p) => p.join(".")),
  fc.constantFrom(
    "7",
    "0.96",
    "2.00",
    "1.8.0",
    "1..2",
    "v1",
    "1.2.",
    "1e3",
    " 1.2",
    "1.2\n",
    `1.${"2".repeat(30)}`,
    `1.${"2".repeat(31)}`,
  ),
);

/** Values of any JSON type, for a field that gets the wrong type. */
const wrongType = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.jsonValue({ maxDepth: 2 }),
);

/** undefined below means "leave the field out". */
const absent = fc.constant(undefined);

/** Valid values, edges of the limits included. */
const goodFields = fc.record({
  user_id: fc.oneof(fc.uuid(), fc.string({ minLength: 1, maxLength: 128 }), fc.constant("u".repeat(128))),
  device_type: fc.oneof(fc.constantFrom("android", "ios", "web", "tablet"), fc.constant("d".repeat(32))),
  ip: validIp,
  device_id: fc.oneof(
    fc.stringMatching(/^[0-9]{3}-[0-9]{2}-[0-9]{4}$/),
    padded(fc.constantFrom("x", "i".repeat(256), "cafe\u0301", "Ångström")),
  ),
  locale: fc.constantFrom("RU", "en-US", "pt_BR", "", "l".repeat(32), null, undefined),
  app_version: fc.constantFrom("7", "0.96", "2.00", "1.8.0", "2.3.0", "10.20.30", `1.${"2".repeat(30)}`),
});

/** Per field, values that are wrong, or near a limit, or of any type, or absent. */
const badValue: Record<(typeof FIELDS)[number], fc.Arbitrary<unknown>> = {
  user_id: fc.oneof(aroundLimit(128), anyString, wrongType, absent),
  device_type: fc.oneof(aroundLimit(32), anyString, wrongType, absent),
  ip: fc.oneof({ weight: 3, arbitrary: nearIp }, anyString, wrongType, absent),
  device_id: fc.oneof(
    padded(aroundLimit(256)),
    padded(anyString),
    fc.tuple(fc.string(), controlChar, fc.string()).map((p) => p.join("")),
    wrongType,
    absent,
  ),
  locale: fc.oneof(aroundLimit(32), anyString, wrongType),
  app_version: fc.oneof({ weight: 3, arbitrary: appVersion }, anyString, wrongType, absent),
};

const mutation = fc.oneof(...FIELDS.map((f) => fc.tuple(fc.constant(f), badValue[f])));

/** A valid event with up to three fields replaced. */
const nearValidFields = fc
  .tuple(goodFields, fc.array(mutation, { maxLength: 3 }))
  .map(([good, mutations]) => {
    const fields: Record<string, unknown> = { ...good };
    for (const [f, v] of mutations) fields[f] = v;
    return fields;
  });

/** Near-valid login objects: mutated fields, unknown extras, shuffled key order, now and then padded past 16 KiB. */
const nearValidBody = fc
  .tuple(
    nearValidFields,
    fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
    fc.boolean(),
    fc.oneof(
      { weight: 15, arbitrary: fc.constant(null) },
      {
        weight: 1,
        arbitrary: fc.tuple(fc.integer({ min: 16_300, max: 16_400 }), fc.constantFrom("x", "é", "€")),
      },
    ),
  )
  .map(([fields, extra, reversed, pad]) => {
    const entries: Array<[string, unknown]> = [...Object.entries(extra), ...Object.entries(fields)].filter(
      ([, v]) => v !== undefined,
    );
    if (reversed) entries.reverse();
    const object: Record<string, unknown> = {};
    for (const [k, v] of entries) object[k] = v;
    if (pad) object.padding = pad[1].repeat(Math.floor(pad[0] / Buffer.byteLength(pad[1])));
    return JSON.stringify(object);
  });

const jsonBody = fc.oneof(
  fc.json(),
  fc.jsonValue().map((v) => JSON.stringify(v)),
);

const stringBody = fc.oneof(
  { weight: 9, arbitrary: anyString },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 16_380, max: 16_390 }), fc.constantFrom("x", "{", "é", "😀"))
      .map(([n, c]) => c.repeat(Math.ceil(n / Buffer.byteLength(c)))),
  },
);

// ---- the properties ----

/** The invariants of every body; counts the outcome in `seen`. */
function check(body: string, seen: Map<string, number>): Decoded {
  let decoded: Decoded | undefined;
  expect(() => {
    decoded = decodeLoginEvent(body);
  }).not.toThrow();
  const result = decoded as Decoded;
  if ("rejection" in result) {
    const { code, detail, field } = result.rejection;
    seen.set(code, (seen.get(code) ?? 0) + 1);
    expect(REJECTION_CODES).toContain(code);
    if (field !== undefined) expect(FIELDS).toContain(field);
    expect(typeof detail).toBe("string");
    expect(detail.length).toBeGreaterThan(0);
    expect(bodyTokens(body).filter((token) => detail.includes(token))).toEqual([]);
  } else {
    seen.set("accepted", (seen.get("accepted") ?? 0) + 1);
    const { event } = result;
    const ip = masker.mask("ip", event.ip);
    const deviceId = masker.mask("device_id", event.device_id);
    expect(ip).toMatch(H1);
    expect(deviceId).toMatch(H1);
    expect(masker.mask("ip", ` ${event.ip.trim()}\n`)).toBe(ip);
    const row = toRow(result, "m", Date.UTC(2024, 0, 1), masker);
    // Parse once: the bytes validation kept are the ones masking would make.
    expect(masker.maskCanonical("ip", result.canonical.ip)).toBe(ip);
    expect(masker.maskCanonical("device_id", result.canonical.device_id)).toBe(deviceId);
    expect(copyPayload([row]).split("\n")).toHaveLength(2);
  }
  return result;
}

/** The code and field of the decoded body equal those of the reference model. */
function agreesWithModel(body: string, decoded: Decoded) {
  const actual: Outcome =
    "rejection" in decoded
      ? { code: decoded.rejection.code, field: decoded.rejection.field }
      : { accepted: true };
  expect(actual).toEqual(model(body));
}

/** Runs `check` (and the model when `withModel`) over `runs` bodies; returns how many of each outcome were seen. */
function fuzz(bodies: fc.Arbitrary<string>, runs: number, withModel: boolean): Map<string, number> {
  const seen = new Map<string, number>();
  fc.assert(
    fc.property(bodies, (body) => {
      const decoded = check(body, seen);
      if (withModel) agreesWithModel(body, decoded);
    }),
    { numRuns: runs },
  );
  return seen;
}

describe("decodeLoginEvent and mask under fuzzing", () => {
  it("never throw on arbitrary strings, reject them as DESIGN §2 says, with a detail quoting nothing of the body", () => {
    const seen = fuzz(stringBody, 2_500, true);
    expect(seen.get("invalid_json")).toBeGreaterThan(1_000);
    expect(seen.get("body_too_large")).toBeGreaterThan(0);
  });

  it("never throw on arbitrary JSON values, and classify them as DESIGN §2 says", () => {
    const seen = fuzz(jsonBody, 2_500, true);
    expect(seen.get("not_an_object")).toBeGreaterThan(100);
    expect(seen.get("missing_field")).toBeGreaterThan(100);
  });

  it("never throw on near-valid login objects, reject with known codes and clean details, and mask every accepted event to an h1 value", () => {
    const seen = fuzz(nearValidBody, 6_000, false);
    expect(seen.get("accepted")).toBeGreaterThan(1_000);
    for (const code of ["body_too_large", "missing_field", "invalid_ip", "invalid_field"]) {
      expect(seen.get(code), code).toBeGreaterThan(50);
    }
  });

  it("agree with a reference model of DESIGN §2 on the code and field of near-valid login objects", () => {
    fuzz(nearValidBody, 3_000, true);
  });

  it("accept the example event", () => {
    expect(check(JSON.stringify(VALID_EVENT), new Map())).toHaveProperty("event");
  });
});
