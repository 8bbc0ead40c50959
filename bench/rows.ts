// The rows the database limit and the sink write: the same synthetic events
// as the pipeline (1 % malformed, 10 % repeated ip/device_id), decoded,
// validated and masked by login-etl's own transform, with random UUID message
// ids like SQS's. Built once, before anything is timed.
import { randomBytes, randomUUID } from "node:crypto";
import { sampleBodies } from "../src/local/sampleEvents.ts";
import type { LoginRow } from "../src/transform/toRow.ts";
import type { Etl } from "./etl.ts";
import type { BenchSettings } from "./settings.ts";

/** A keyring made for this run only. */
export function benchKeyring(): string {
  return JSON.stringify({
    primary: "bench",
    keys: [{ kid: "bench", key: randomBytes(32).toString("base64") }],
  });
}

export function buildRows(etl: Etl, settings: BenchSettings, keyring: string, count: number): LoginRow[] {
  const config = etl.config.loadConfig({ PII_KEYRING: keyring }, {}, new Set(["keyring"]));
  const transform = etl.app.createTransform(config);
  const rows: LoginRow[] = [];
  const now = Date.now();
  for (const body of sampleBodies({
    count,
    malformedRatio: settings.malformedRatio,
    duplicateRatio: settings.duplicateRatio,
    seed: settings.seed,
  })) {
    const outcome = transform({
      messageId: randomUUID(),
      body,
      bytes: body.length,
      sentAtMs: now,
      receiveCount: 1,
      receivedAtMs: now,
      handle: "",
    });
    if ("row" in outcome) rows.push(outcome.row);
  }
  return rows;
}
