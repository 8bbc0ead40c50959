// A problem is told in one place: its log line ({code, stage, ...context}) and
// its count in login_etl_errors_total{stage, code} are written together, with a
// code from the closed catalogue of errors.ts. Where a failure is retried and
// summed up once (a delete tried four times), each attempt is counted with
// `count` and the one line written with `log`: both still from here.
//
// The context goes into the line as it is: message ids, counts, codes,
// describeCause's fields; never a body, a raw ip/device_id or a key.
import type { ErrorCode, SafeContext, Stage } from "../errors.ts";
import type { Logger } from "./logger.ts";
import type { Metrics } from "./metrics.ts";

export type ProblemLevel = "warn" | "error";

export interface Problems {
  /** Writes the problem's line and counts it `count` times (default 1) in errors_total{stage, code}. */
  report(
    stage: Stage,
    code: ErrorCode,
    context: SafeContext,
    message: string,
    options?: { level?: ProblemLevel; count?: number },
  ): void;
  /** Counts failed attempts without a line: the line comes once, from `log`, when they are given up on. */
  count(stage: Stage, code: ErrorCode, count?: number): void;
  /** Writes the line without counting: for attempts already counted one by one with `count`, or a notice. */
  log(
    stage: Stage,
    code: ErrorCode,
    context: SafeContext,
    message: string,
    options?: { level?: ProblemLevel },
  ): void;
}

/**
 * `metrics` null: nothing exports a registry (the Lambda, the pool of a one-off command), so only
 * the line is written, in the same shape.
 */
export function createProblems(log: Logger, metrics: Pick<Metrics, "errors"> | null): Problems {
  function count(stage: Stage, code: ErrorCode, n = 1): void {
    if (n > 0) metrics?.errors.inc({ stage, code }, n);
  }
  function line(
    stage: Stage,
    code: ErrorCode,
    context: SafeContext,
    message: string,
    { level = "warn" }: { level?: ProblemLevel } = {},
  ): void {
    // code and stage first in the line, and never overwritten by the context.
    log[level](Object.assign({ code, stage }, context, { code, stage }), message);
  }
  return {
    report(stage, code, context, message, { level = "warn", count: n = 1 } = {}) {
      count(stage, code, n);
      line(stage, code, context, message, { level });
    },
    count,
    log: line,
  };
}
