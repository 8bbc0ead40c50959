// An endpoint that speaks only the old SQS Query protocol (LocalStack < 3)
// must get one clear message naming that cause, not a bare HTTP 500. The
// endpoint here is a tiny HTTP server answering the way such a LocalStack
// does: it is not a stand-in for SQS, only for an incompatible one.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, STACK_TRACE } from "../helpers/cli.ts";
import { type TestStack, testStack } from "../helpers/stack.ts";

let stack: TestStack;
let server: http.Server;
let endpoint: string;
let answer: { status: number; type: string; body: string };

beforeAll(async () => {
  stack = await testStack("legacy");
  server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(answer.status, { "content-type": answer.type });
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.close();
  await stack.close();
});

describe("an SQS endpoint that speaks only the Query protocol", () => {
  const cases = [
    {
      name: "an XML error with HTTP 500",
      status: 500,
      type: "text/xml",
      body: "<ErrorResponse><Error><Type>Sender</Type><Code>UnknownOperationException</Code><Message>Unknown operation</Message></Error></ErrorResponse>",
    },
    {
      name: "UnknownOperationException as JSON",
      status: 400,
      type: "application/x-amz-json-1.0",
      body: '{"__type":"UnknownOperationException"}',
    },
  ];
  for (const c of cases) {
    it(`gets a message naming the old protocol and the fix for ${c.name}`, async () => {
      answer = c;
      const res = await runCli(
        ["drain"],
        stack.env({ SQS_ENDPOINT_URL: endpoint, SQS_QUEUE_URL: `${endpoint}/000000000000/q` }),
      );
      expect(res.code).toBe(1);
      expect(res.stderr).toContain("SQS_LEGACY_PROTOCOL");
      expect(res.stderr).toMatch(/LocalStack older than 3\.0/);
      expect(res.stderr).not.toMatch(STACK_TRACE);
    });
  }
});
