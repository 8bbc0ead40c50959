// Every metric, declared once. Label values are bounded (reason codes, stage
// and error codes), never message content.
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export function createMetrics() {
  const registry = new Registry();
  const prefix = "login_etl_";
  const metrics = {
    registry,
    received: new Counter({
      name: `${prefix}messages_received_total`,
      help: "Deliveries received from the source queue (a redelivery counts again)",
      registers: [registry],
    }),
    inserted: new Counter({
      name: `${prefix}rows_inserted_total`,
      help: "New rows committed to user_logins",
      registers: [registry],
    }),
    duplicates: new Counter({
      name: `${prefix}messages_duplicate_total`,
      help: "Deliveries whose message_id was already stored (redeliveries), acknowledged without a new row",
      registers: [registry],
    }),
    rejected: new Counter({
      name: `${prefix}messages_rejected_total`,
      help: "Deliveries rejected by validation, by reason code and where they went (dead_lettered or left_on_queue)",
      labelNames: ["reason", "outcome"] as const,
      registers: [registry],
    }),
    released: new Counter({
      name: `${prefix}messages_released_total`,
      help: "Deliveries handed back to the queue unprocessed (shutdown deadline)",
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: `${prefix}messages_in_flight`,
      help: "Deliveries received and not yet settled",
      registers: [registry],
    }),
    writeSeconds: new Histogram({
      name: `${prefix}batch_write_duration_seconds`,
      help: "Time to commit one batch to PostgreSQL",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    batchRows: new Histogram({
      name: `${prefix}batch_rows`,
      help: "Rows per committed batch",
      buckets: [1, 10, 50, 100, 250, 500, 1000, 2000],
      registers: [registry],
    }),
    lagSeconds: new Histogram({
      name: `${prefix}send_to_commit_lag_seconds`,
      help: "From SQS SentTimestamp to the commit of the row",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      registers: [registry],
    }),
    errors: new Counter({
      name: `${prefix}errors_total`,
      help: "Failures by stage and error code (each retry counts)",
      labelNames: ["stage", "code"] as const,
      registers: [registry],
    }),
    ackFailures: new Counter({
      name: `${prefix}ack_failures_total`,
      help: "Deliveries whose delete failed after their row was committed (they come back as duplicates)",
      registers: [registry],
    }),
    ready: new Gauge({
      name: `${prefix}ready`,
      help: "1 when the last readiness check (/readyz, also run at each scrape) passed, else 0",
      registers: [registry],
    }),
    visibilityExtended: new Counter({
      name: `${prefix}visibility_extensions_total`,
      help: "Deliveries whose visibility timeout was extended while their batch was being written",
      registers: [registry],
    }),
  };
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;
