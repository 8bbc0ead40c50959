// On plain HTTP (an emulator) nothing else protects a message body on its
// way, so each received body is checked against the MD5OfBody SQS computed
// when it took the message, as the AWS SDK does. Over TLS the check is skipped:
// TLS already authenticates every byte.
// crypto.hash is the one-shot form: one call into OpenSSL instead of three.
import { hash } from "node:crypto";
import type { Message } from "./types.ts";

export class BodyChecksumError extends Error {
  constructor(messageId: string | undefined) {
    super(`MD5OfBody mismatch for message ${messageId ?? "(no id)"}`);
    this.name = "BodyChecksumMismatch";
  }
}

/** Throws BodyChecksumError for the first message whose body does not hash to its MD5OfBody. */
export function verifyBodyMd5(messages: readonly Message[]): void {
  for (const m of messages) {
    if (m.Body === undefined || m.MD5OfBody === undefined) continue;
    if (hash("md5", m.Body) !== m.MD5OfBody) throw new BodyChecksumError(m.MessageId);
  }
}
