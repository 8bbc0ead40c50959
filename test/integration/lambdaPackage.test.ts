// `npm run package:lambda` builds one self-contained ES module: copied away
// from the checkout (no node_modules beside it) and loaded by a plain Node
// process, its `handler` loads a real SQS event into the embedded PostgreSQL.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageLambda } from "../../deploy/lambda/package.ts";
import { migrate } from "../../src/postgres/migrations.ts";
import { captured } from "../helpers/cli.ts";
import { receiveEvent } from "../helpers/lambdaEvent.ts";
import { loginEvent, type TestStack, testStack } from "../helpers/stack.ts";

let stack: TestStack;
let outDir: string;

beforeAll(async () => {
  stack = await testStack("lambda_package");
  await migrate(stack.db, stack.schema);
  await stack.freshQueues();
  outDir = mkdtempSync(join(tmpdir(), "login-etl-lambda-"));
});
afterAll(async () => {
  rmSync(outDir, { recursive: true, force: true });
  await stack.close();
});

/** Runs `handler(event)` of the built module in a fresh Node process; its JSON answer. */
function invokeBuilt(
  modulePath: string,
  event: unknown,
): Promise<{ code: number | null; out: string; err: string }> {
  const script = `
    const { handler } = await import(${JSON.stringify(`file://${modulePath}`)});
    const chunks = [];
    for await (const c of process.stdin) chunks.push(c);
    const res = await handler(JSON.parse(Buffer.concat(chunks).toString()));
    process.stdout.write(JSON.stringify(res));
    process.exit(0);
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    cwd: outDir,
    env: stack.env() as NodeJS.ProcessEnv,
    stdio: ["pipe", "pipe", "pipe"],
  });
  child.stdin.end(JSON.stringify(event));
  return captured(child).then(({ code, stdout, stderr }) => ({ code, out: stdout, err: stderr }));
}

describe("npm run package:lambda", () => {
  it("builds a self-contained module whose handler loads a real SQS event", async () => {
    const modulePath = await packageLambda(outDir);
    await stack.send([loginEvent(), loginEvent(), "not json"]);
    const event = await receiveEvent(stack.sqs, stack.queueUrl, 3);
    const res = await invokeBuilt(modulePath, event);
    expect(res.code, res.err).toBe(0);
    expect(JSON.parse(res.out)).toEqual({ batchItemFailures: [] });
    const rows = await stack.query("SELECT masked_ip FROM user_logins");
    expect(rows).toHaveLength(2);
    expect(await stack.receiveAll(stack.dlqUrl)).toHaveLength(1);
  });
});
