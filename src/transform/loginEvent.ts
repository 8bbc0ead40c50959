// Decoding and validating one message body (§2). Bad input is data, not an
// exception: the result is { event } or { rejection }, and a rejection's detail
// names the field and the rule, never a value from the body.
import { z } from "zod";
import { canonicalIpBytes } from "./ipAddress.ts";

export const MAX_BODY_BYTES = 16 * 1024;

export const REJECTION_CODES = [
  "body_too_large",
  "invalid_json",
  "not_an_object",
  "missing_field",
  "invalid_ip",
  "invalid_field",
] as const;
export type RejectionCode = (typeof REJECTION_CODES)[number];

export interface Rejection {
  readonly code: RejectionCode;
  readonly detail: string;
  readonly field?: string;
}

export interface LoginEvent {
  readonly user_id: string;
  readonly device_type: string;
  readonly ip: string;
  readonly device_id: string;
  readonly locale: string | null;
  readonly app_version: string;
}

export type Decoded = { readonly event: LoginEvent } | { readonly rejection: Rejection };

const REQUIRED = ["user_id", "device_type", "ip", "device_id", "app_version"] as const;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the rule (§2)
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;
// §2: every string must be well-formed text. A lone UTF-16 surrogate (JSON's "\ud800")
// would be stored or masked as U+FFFD, so distinct inputs would collide; PostgreSQL
// text cannot hold U+0000 at all.
const WELL_FORMED = (s: string) => s.isWellFormed() && !s.includes("\u0000");
const TEXT_MESSAGE = "must be well-formed text: no lone UTF-16 surrogate, no U+0000";
// §2 counts JavaScript string length (UTF-16 code units); zod's min/max count code points.
const text = (min: number, max: number) =>
  z
    .string()
    .refine(WELL_FORMED, TEXT_MESSAGE)
    .refine((s) => s.length >= min && s.length <= max);

const deviceIdRule = z
  .string()
  .transform((s) => s.trim())
  .pipe(text(1, 256).refine((s) => !CONTROL_CHARS.test(s)));

/** The §2 device_id rule alone (for `login-etl mask`). */
export const isValidDeviceId = (value: string): boolean => deviceIdRule.safeParse(value).success;

/** The per-field rules of §2 other than presence and ip, in the order reasons are reported. */
const FIELD_RULES = [
  ["user_id", text(1, 128), "a string of 1 to 128 characters"],
  ["device_type", text(1, 32), "a string of 1 to 32 characters"],
  ["device_id", deviceIdRule, "a string of 1 to 256 characters after trimming, without control characters"],
  ["locale", text(0, 32).nullable(), "a string of at most 32 characters, or null"],
  [
    "app_version",
    text(1, 32).refine((s) => /^[0-9]+(\.[0-9]+){0,2}$/.test(s)),
    "a string of 1 to 3 dot-separated decimal parts, at most 32 characters",
  ],
] as const;

const reject = (code: RejectionCode, detail: string, field?: string): Decoded => ({
  rejection: field === undefined ? { code, detail } : { code, detail, field },
});

export function decodeLoginEvent(body: string): Decoded {
  // UTF-8 takes at most 3 bytes per UTF-16 unit, so short bodies skip the byte count.
  if (body.length * 3 > MAX_BODY_BYTES && Buffer.byteLength(body, "utf8") > MAX_BODY_BYTES) {
    return reject("body_too_large", `body is larger than ${MAX_BODY_BYTES} bytes`);
  }
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    // JSON.parse's message quotes the input: never pass it on.
    return reject("invalid_json", "body is not valid JSON");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return reject(
      "not_an_object",
      `body is JSON but not an object (${value === null ? "null" : Array.isArray(value) ? "array" : typeof value})`,
    );
  }
  const fields = value as Record<string, unknown>;
  for (const field of REQUIRED) {
    if (!Object.hasOwn(fields, field) || fields[field] === null) {
      return reject("missing_field", `required field ${field} is absent or null`, field);
    }
  }
  const ip = fields.ip;
  if (typeof ip !== "string" || !canonicalIpBytes(ip)) {
    return reject("invalid_ip", "field ip: expected a string holding one IPv4 or IPv6 address", "ip");
  }
  const locale = Object.hasOwn(fields, "locale") ? fields.locale : null;
  for (const [field, rule, expected] of FIELD_RULES) {
    const input = field === "locale" ? locale : fields[field];
    const result = rule.safeParse(input);
    if (!result.success) {
      const malformed = result.error.issues.some((i) => i.message === TEXT_MESSAGE);
      return reject(
        "invalid_field",
        `field ${field}: expected ${expected}${malformed ? `; ${TEXT_MESSAGE}` : ""}`,
        field,
      );
    }
  }
  return {
    event: {
      user_id: fields.user_id as string,
      device_type: fields.device_type as string,
      ip,
      device_id: fields.device_id as string,
      locale: locale as string | null,
      app_version: fields.app_version as string,
    },
  };
}
