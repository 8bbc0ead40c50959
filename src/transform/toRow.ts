// One valid event → one user_logins row (§4). Pure: the masker is injected.
import type { LoginEvent } from "./loginEvent.ts";
import { canonicalBytes, type Masker, type PiiField } from "./mask.ts";

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

export function utcDate(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}

export function toRow(event: LoginEvent, messageId: string, sentAtMs: number, masker: Masker): LoginRow {
  const ip = canonicalBytes("ip", event.ip);
  const deviceId = canonicalBytes("device_id", event.device_id);
  // Validation has already established both are maskable.
  if (ip === null || deviceId === null) throw new Error("toRow called with an unvalidated event");
  return {
    message_id: messageId,
    user_id: event.user_id,
    device_type: event.device_type,
    masked_ip: masker.maskCanonical("ip", ip),
    masked_device_id: masker.maskCanonical("device_id", deviceId),
    locale: event.locale,
    app_version: appVersionNumber(event.app_version),
    app_version_text: event.app_version,
    create_date: utcDate(sentAtMs),
    [PII_CANONICAL]: { ip, device_id: deviceId },
  };
}
