// One valid event → one user_logins row (§4). Pure: the masker is injected.
import type { ValidEvent } from "./loginEvent.ts";
import type { Masker, PiiField } from "./mask.ts";

/**
 * The canonical bytes (§3) of a row's ip and device_id, for the vault to seal
 * (§3b). Under a symbol key so that JSON.stringify, pino and the sink's column
 * list never see them: raw PII must not reach a log line or a table in clear.
 */
export const PII_CANONICAL: unique symbol = Symbol("login-etl canonical PII bytes");

export interface LoginRow {
  readonly message_id: string;
  readonly user_id: string;
  readonly device_type: string;
  readonly masked_ip: string;
  readonly masked_device_id: string;
  readonly locale: string | null;
  readonly app_version: number | null;
  readonly app_version_text: string;
  /** UTC calendar date, YYYY-MM-DD. */
  readonly create_date: string;
  readonly [PII_CANONICAL]?: Readonly<Record<PiiField, Buffer>>;
}

/** major*10000 + minor*100 + patch when every part is 0..99, else null: the legacy integer, never lossy. */
export function appVersionNumber(text: string): number | null {
  const parts = text.split(".").map((p) => Number.parseInt(p, 10));
  let value = 0;
  for (let i = 0; i < 3; i++) {
    const part = parts[i] ?? 0;
    if (!(part >= 0 && part <= 99)) return null;
    value = value * 100 + part;
  }
  return value;
}

const DAY_MS = 86_400_000;
let cachedDay = { startMs: 0, endMs: 0, text: "" };

/** The UTC date of `epochMs`; the day's text is kept, since nearly every message of a batch shares it. */
export function utcDate(epochMs: number): string {
  if (epochMs >= cachedDay.startMs && epochMs < cachedDay.endMs) return cachedDay.text;
  const startMs = Math.floor(epochMs / DAY_MS) * DAY_MS;
  cachedDay = { startMs, endMs: startMs + DAY_MS, text: new Date(epochMs).toISOString().slice(0, 10) };
  return cachedDay.text;
}

/**
 * The row of a validated event: validation already parsed what masking needs (parse once).
 * `keepCanonical` (the vault is on) keeps the canonical bytes for sealing; without it a row
 * holds no Buffer, which keeps thousands of rows in flight cheap for the garbage collector.
 */
export function toRow(
  valid: ValidEvent,
  messageId: string,
  sentAtMs: number,
  masker: Masker,
  keepCanonical = false,
): LoginRow {
  const { event, canonical } = valid;
  const masked_ip = masker.maskCanonical("ip", canonical.ip);
  const masked_device_id = masker.maskCanonical("device_id", canonical.device_id);
  const app_version = appVersionNumber(event.app_version);
  const create_date = utcDate(sentAtMs);
  const row: { -readonly [K in keyof LoginRow]: LoginRow[K] } = {
    message_id: messageId,
    user_id: event.user_id,
    device_type: event.device_type,
    masked_ip,
    masked_device_id,
    locale: event.locale,
    app_version,
    app_version_text: event.app_version,
    create_date,
  };
  if (keepCanonical) row[PII_CANONICAL] = canonical;
  return row;
}
