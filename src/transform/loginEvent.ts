// Decoding and validating one message body (§2). Bad input is data, not an
// exception: the result is { event } or { rejection }, and a rejection's detail
// names the field and the rule, never a value from the body.
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

/**
 * A valid event with what masking needs, parsed once (§3): the ip's 16 canonical
 * bytes and the trimmed, NFC-normalised device_id's UTF-8 bytes.
 */
export interface ValidEvent {
  readonly event: LoginEvent;
  readonly canonical: Readonly<Record<"ip" | "device_id", Buffer>>;
}

export type Decoded = ValidEvent | { readonly rejection: Rejection };

const REQUIRED = ["user_id", "device_type", "ip", "device_id", "app_version"] as const;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the rule (§2)
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;
// §2: every string must be well-formed text. A lone UTF-16 surrogate (JSON's "\ud800")
// would be stored or masked as U+FFFD, so distinct inputs would collide; PostgreSQL
// text cannot hold U+0000 at all.
const TEXT_MESSAGE = "must be well-formed text: no lone UTF-16 surrogate, no U+0000";
const APP_VERSION = /^[0-9]+(\.[0-9]+){0,2}$/;

/** Why a field failed, for its detail: its rule, or that it is not well-formed text. */
type Check = "ok" | "rule" | "text";

/** §2 counts JavaScript string length (UTF-16 code units). Hand-written: zod cost ~1 µs per field here. */
function text(value: unknown, min: number, max: number): Check {
  if (typeof value !== "string") return "rule";
  if (!value.isWellFormed() || value.includes("\u0000")) return "text";
  return value.length >= min && value.length <= max ? "ok" : "rule";
}

/** The trimmed device_id when it passes §2 (1 to 256 characters, no control characters), else null. */
function trimmedDeviceId(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const trimmed = value.trim();
  if (trimmed.length < 1 || trimmed.length > 256 || CONTROL_CHARS.test(trimmed) || !trimmed.isWellFormed())
    return null;
  return trimmed;
}

/** The §2 device_id rule alone (for `login-etl mask`). */
export const isValidDeviceId = (value: string): boolean => trimmedDeviceId(value) !== null;

/** The per-field rules of §2 other than presence, ip and device_id, in the order reasons are reported. */
const FIELD_RULES: ReadonlyArray<readonly [keyof LoginEvent, (v: unknown) => Check, string]> = [
  ["user_id", (v) => text(v, 1, 128), "a string of 1 to 128 characters"],
  ["device_type", (v) => text(v, 1, 32), "a string of 1 to 32 characters"],
  ["locale", (v) => (v === null ? "ok" : text(v, 0, 32)), "a string of at most 32 characters, or null"],
  [
    "app_version",
    (v) => {
      const check = text(v, 1, 32);
      return check === "ok" && !APP_VERSION.test(v as string) ? "rule" : check;
    },
    "a string of 1 to 3 dot-separated decimal parts, at most 32 characters",
  ],
];
const DEVICE_ID_EXPECTED = "a string of 1 to 256 characters after trimming, without control characters";

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
  const ipBytes = typeof ip === "string" ? canonicalIpBytes(ip) : null;
  if (typeof ip !== "string" || ipBytes === null) {
    return reject("invalid_ip", "field ip: expected a string holding one IPv4 or IPv6 address", "ip");
  }
  const locale = Object.hasOwn(fields, "locale") ? fields.locale : null;
  // §2's order among invalid_field: user_id, device_type, device_id, locale, app_version.
  for (const [field, rule, expected] of FIELD_RULES) {
    if (field === "locale") {
      const deviceFailure = deviceIdRejection(fields.device_id);
      if (deviceFailure) return deviceFailure;
    }
    const check = rule(field === "locale" ? locale : fields[field]);
    if (check !== "ok") {
      return reject(
        "invalid_field",
        `field ${field}: expected ${expected}${check === "text" ? `; ${TEXT_MESSAGE}` : ""}`,
        field,
      );
    }
  }
  const deviceId = trimmedDeviceId(fields.device_id) as string;
  return {
    event: {
      user_id: fields.user_id as string,
      device_type: fields.device_type as string,
      ip,
      device_id: fields.device_id as string,
      locale: locale as string | null,
      app_version: fields.app_version as string,
    },
    canonical: { ip: ipBytes, device_id: Buffer.from(deviceId.normalize("NFC"), "utf8") },
  };
}

function deviceIdRejection(value: unknown): Decoded | null {
  if (trimmedDeviceId(value) !== null) return null;
  const malformed = typeof value === "string" && !value.trim().isWellFormed();
  return reject(
    "invalid_field",
    `field device_id: expected ${DEVICE_ID_EXPECTED}${malformed ? `; ${TEXT_MESSAGE}` : ""}`,
    "device_id",
  );
}
