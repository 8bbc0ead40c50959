// JSON lines on stderr (stdout is for command results such as drain --json).
// Quiet when healthy: info for lifecycle, warn/error for problems.
import { type Logger, pino } from "pino";

export type { Logger };

export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      base: { service: "login-etl" },
      // Belt and braces: these names never carry PII in our calls, but a
      // careless future call must not print a body or a key.
      redact: {
        paths: ["body", "*.body", "key", "*.key", "keyring", "ip", "device_id"],
        censor: "[redacted]",
      },
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ fd: 2, sync: true }),
  );
}
