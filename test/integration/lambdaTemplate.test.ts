// deploy/lambda/template.yaml (AWS SAM): linted by cfn-lint (which applies the
// SAM transform and checks every resource against the CloudFormation
// specification), and checked against the handler and its package.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { OUT_DIR } from "../../deploy/lambda/package.ts";
import { SETTINGS } from "../../src/config.ts";
import { LAMBDA_SETTINGS } from "../../src/lambda/handler.ts";

const TEMPLATE = fileURLToPath(new URL("../../deploy/lambda/template.yaml", import.meta.url));

// CloudFormation's short forms, as plain objects.
const intrinsic = (tag: string, key: string) => ({
  tag,
  resolve: (value: string) => ({ [key]: key === "Fn::GetAtt" ? value.split(".") : value }),
});
// biome-ignore lint/suspicious/noExplicitAny: a parsed template, checked field by field below
const template: any = parse(readFileSync(TEMPLATE, "utf8"), {
  customTags: [intrinsic("!Ref", "Ref"), intrinsic("!GetAtt", "Fn::GetAtt"), intrinsic("!Sub", "Fn::Sub")],
});
const fn = template.Resources.Function.Properties;

describe("deploy/lambda/template.yaml", () => {
  it("passes cfn-lint, SAM transform included", () => {
    const res = spawnSync("cfn-lint", [TEMPLATE], { encoding: "utf8" });
    if (res.error)
      throw new Error(`cfn-lint is needed for this test (${(res.error as NodeJS.ErrnoException).code})`);
    expect(res.status, res.stdout + res.stderr).toBe(0);
  });

  it("runs the packaged handler on a Node runtime the package is built for", async () => {
    expect(resolve(dirname(TEMPLATE), fn.CodeUri)).toBe(OUT_DIR);
    const [file, exported] = fn.Handler.split(".");
    expect(file).toBe("index"); // dist/lambda/index.mjs
    expect(typeof (await import("../../src/lambda/handler.ts"))[exported as "handler"]).toBe("function");
    const packager = readFileSync(
      fileURLToPath(new URL("../../deploy/lambda/package.ts", import.meta.url)),
      "utf8",
    );
    const target = Number(/target: "node(\d+)"/.exec(packager)?.[1]);
    expect(Number(/^nodejs(\d+)\.x$/.exec(fn.Runtime)?.[1])).toBeGreaterThanOrEqual(target);
  });

  it("wires queue, dead-letter queue and event source mapping with ReportBatchItemFailures", () => {
    const { Queue, DeadLetterQueue } = template.Resources;
    expect(DeadLetterQueue.Type).toBe("AWS::SQS::Queue");
    expect(Queue.Properties.RedrivePolicy.deadLetterTargetArn).toEqual({
      "Fn::GetAtt": ["DeadLetterQueue", "Arn"],
    });
    const [event] = Object.values(fn.Events) as Array<{ Type: string; Properties: Record<string, unknown> }>;
    expect(event?.Type).toBe("SQS");
    expect(event?.Properties.Queue).toEqual({ "Fn::GetAtt": ["Queue", "Arn"] });
    expect(event?.Properties.FunctionResponseTypes).toEqual(["ReportBatchItemFailures"]);
    // Rejected messages go, with their reason, to the same dead-letter queue.
    expect(fn.Environment.Variables.SQS_DLQ_URL).toEqual({ Ref: "DeadLetterQueue" });
    expect(fn.Policies).toContainEqual({
      SQSSendMessagePolicy: { QueueName: { "Fn::GetAtt": ["DeadLetterQueue", "QueueName"] } },
    });
    // A message must not come back while an invocation still holds it.
    expect(Queue.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * fn.Timeout);
  });

  it("sets only environment variables the handler reads", () => {
    const read = new Set([...LAMBDA_SETTINGS.map((s) => SETTINGS[s].env), "PII_KEYRING", "PII_KEYRING_FILE"]);
    const names = Object.keys(fn.Environment.Variables);
    expect(names.filter((n) => !read.has(n))).toEqual([]);
    expect(names).toEqual(expect.arrayContaining(["DATABASE_URL", "PII_KEYRING", "SQS_DLQ_URL"]));
  });
});
