// The one helper that tells a problem (src/ops/problems.ts): its log line and
// its count in login_etl_errors_total are written together, with a code from
// the closed catalogue of src/errors.ts, which README's "Error codes" table
// documents entry for entry. A real pino logger with a capturing stream and the
// real prom-client registry; no mocks.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { codeOf, contextOf, ERROR_CODES, EtlError, isErrorCode } from "../../src/errors.ts";
import { createMetrics, type Metrics } from "../../src/ops/metrics.ts";
import { createProblems } from "../../src/ops/problems.ts";
import { createCapturingLogger } from "./fakes.ts";

const ROOT = resolve(import.meta.dirname, "../..");

async function errorsTotal(metrics: Metrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await metrics.errors.get()).values) out[`${v.labels.stage}/${v.labels.code}`] = v.value;
  return out;
}

function setup() {
  const { logger, lines } = createCapturingLogger();
  const metrics = createMetrics();
  return { lines, metrics, problems: createProblems(logger, metrics) };
}

describe("createProblems", () => {
  it("report writes the line {code, stage, ...context} and counts errors_total{stage, code} together", async () => {
    const { lines, metrics, problems } = setup();
    problems.report(
      "writing",
      "DB_UNREACHABLE",
      { rows: 3, attempt: 1, retryInMs: 100 },
      "batch write failed; retrying",
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: "warn",
      code: "DB_UNREACHABLE",
      stage: "writing",
      rows: 3,
      attempt: 1,
      retryInMs: 100,
      msg: "batch write failed; retrying",
    });
    // code and stage lead the line.
    expect(Object.keys(lines[0] ?? {}).filter((k) => k === "code" || k === "stage")).toEqual([
      "code",
      "stage",
    ]);
    expect(await errorsTotal(metrics)).toEqual({ "writing/DB_UNREACHABLE": 1 });
    const text = await metrics.registry.metrics();
    expect(text).toContain('login_etl_errors_total{stage="writing",code="DB_UNREACHABLE"} 1');
  });

  it("report counts `count` at once and writes at the level asked for", async () => {
    const { lines, metrics, problems } = setup();
    problems.report("dead-lettering", "DLQ_SEND_FAILED", { messageIds: ["a", "b", "c"] }, "refused", {
      count: 3,
    });
    problems.report("processing", "TRANSFORM_FAILED", { messageId: "m" }, "transform threw", {
      level: "error",
    });
    expect(lines.map((l) => [l.level, l.code])).toEqual([
      ["warn", "DLQ_SEND_FAILED"],
      ["error", "TRANSFORM_FAILED"],
    ]);
    expect(await errorsTotal(metrics)).toEqual({
      "dead-lettering/DLQ_SEND_FAILED": 3,
      "processing/TRANSFORM_FAILED": 1,
    });
  });

  it("count counts each attempt without a line; log writes the one line without counting again", async () => {
    const { lines, metrics, problems } = setup();
    // A delete tried four times: a failed request, then three refusals; one line at the end.
    problems.count("acking", "SQS_UNREACHABLE");
    for (let i = 0; i < 3; i++) problems.count("acking", "ACK_FAILED");
    expect(lines).toEqual([]);
    problems.log("acking", "ACK_FAILED", { messageIds: ["m-1"] }, "delete failed after commit");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ code: "ACK_FAILED", stage: "acking", messageIds: ["m-1"] });
    expect(await errorsTotal(metrics)).toEqual({ "acking/SQS_UNREACHABLE": 1, "acking/ACK_FAILED": 3 });
  });

  it("a count of 0 counts nothing (no series appears)", async () => {
    const { metrics, problems } = setup();
    problems.count("writing", "DB_WRITE_FAILED", 0);
    expect(await errorsTotal(metrics)).toEqual({});
  });

  it("never lets the context overwrite code or stage", async () => {
    const { lines, metrics, problems } = setup();
    problems.report("receiving", "SQS_UNREACHABLE", { code: "ECONNREFUSED", stage: "elsewhere" }, "failed");
    expect(lines[0]).toMatchObject({ code: "SQS_UNREACHABLE", stage: "receiving" });
    expect(await errorsTotal(metrics)).toEqual({ "receiving/SQS_UNREACHABLE": 1 });
  });

  it("without a registry (the Lambda) writes the same line and counts nothing", () => {
    const { logger, lines } = createCapturingLogger();
    const problems = createProblems(logger, null);
    problems.report("writing", "DB_ROW_REFUSED", { messageIds: ["x"] }, "database refused rows");
    problems.count("writing", "DB_ROW_REFUSED");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ code: "DB_ROW_REFUSED", stage: "writing", messageIds: ["x"] });
  });
});

describe("the catalogue", () => {
  it("codeOf takes an EtlError's own code and the fallback for anything else", () => {
    expect(codeOf(new EtlError("DB_ACCESS_DENIED", "no"), "DB_WRITE_FAILED")).toBe("DB_ACCESS_DENIED");
    expect(codeOf(new Error("boom"), "DB_WRITE_FAILED")).toBe("DB_WRITE_FAILED");
    expect(codeOf("a string", "ACK_FAILED")).toBe("ACK_FAILED");
    expect(contextOf(new EtlError("DB_UNREACHABLE", "x", { context: { operation: "copy" } }))).toEqual({
      operation: "copy",
    });
    expect(contextOf(new Error("value 10.0.0.1 refused"))).toEqual({});
  });

  it("isErrorCode knows the catalogue and nothing else", () => {
    expect(isErrorCode("DLQ_SEND_FAILED")).toBe(true);
    expect(isErrorCode("InternalError")).toBe(false);
    expect(isErrorCode("MESSAGE_REJECTED")).toBe(false);
    expect(isErrorCode("toString")).toBe(false);
  });

  it("README's Error codes table lists exactly the catalogue, each under its stage", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const section = readme.split("### Error codes")[1]?.split("\n## ")[0] ?? "";
    const rows = [...section.matchAll(/^\| `([A-Z_]+)` \| ([a-z-]+) \|/gm)].map((m) => [m[1], m[2]]);
    expect(Object.fromEntries(rows)).toEqual(
      Object.fromEntries(Object.entries(ERROR_CODES).map(([code, { stage }]) => [code, stage])),
    );
  });

  it("errors_total is bumped only in src/ops/problems.ts", () => {
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
      );
    const bumping = files(join(ROOT, "src"))
      .filter((f) => /\berrors\.inc\(/.test(readFileSync(f, "utf8")))
      .map((f) => relative(ROOT, f));
    expect(bumping).toEqual(["src/ops/problems.ts"]);
  });
});
