// The lean signer must produce the same Authorization header, byte for byte,
// as the AWS SDK's own signer (@smithy/signature-v4 with its defaults, which
// add and sign x-amz-content-sha256 as the SDK does on every SQS request).
import { createHash, createHmac } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";
import { describe, expect, it } from "vitest";
import { type AwsCredentials, amzDate, canonicalPath, createSigV4Signer } from "../../../src/sqs/sigv4.ts";

const bytes = (d: string | ArrayBuffer | ArrayBufferView) =>
  typeof d === "string"
    ? Buffer.from(d)
    : ArrayBuffer.isView(d)
      ? Buffer.from(d.buffer, d.byteOffset, d.byteLength)
      : Buffer.from(d);

/** A plain SHA-256 / HMAC for @smithy/signature-v4, independent of the code under test. */
class Sha256 {
  private readonly h;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h = secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView) {
    this.h.update(bytes(data));
  }
  async digest() {
    return new Uint8Array(this.h.digest());
  }
}

const LONG_TERM: AwsCredentials = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
};
const SESSION: AwsCredentials = {
  accessKeyId: "ASIAEXAMPLE",
  secretAccessKey: "c2VjcmV0L3dpdGgvc2xhc2hlcys=",
  sessionToken: "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+token==",
};

interface Case {
  readonly name: string;
  readonly region: string;
  readonly protocol: "https:" | "http:";
  readonly hostname: string;
  readonly port?: number;
  readonly path: string;
  readonly target: string;
  readonly body: string;
  readonly credentials: AwsCredentials;
  readonly date: string;
}

const receive = JSON.stringify({
  QueueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/logins",
  MaxNumberOfMessages: 10,
  WaitTimeSeconds: 20,
  MessageSystemAttributeNames: ["SentTimestamp", "ApproximateReceiveCount"],
});

const CASES: Case[] = [
  {
    name: "a regional host",
    region: "eu-west-1",
    protocol: "https:",
    hostname: "sqs.eu-west-1.amazonaws.com",
    path: "/",
    target: "AmazonSQS.ReceiveMessage",
    body: receive,
    credentials: LONG_TERM,
    date: "2026-12-01T14:22:30.456Z",
  },
  {
    name: "a China region host",
    region: "cn-north-1",
    protocol: "https:",
    hostname: "sqs.cn-north-1.amazonaws.com.cn",
    path: "/",
    target: "AmazonSQS.DeleteMessageBatch",
    body: JSON.stringify({ QueueUrl: "q", Entries: [{ Id: "0", ReceiptHandle: "AQEB+/=" }] }),
    credentials: LONG_TERM,
    date: "2026-01-31T23:59:59.999Z",
  },
  {
    name: "a custom endpoint with a port and a path",
    region: "us-east-1",
    protocol: "http:",
    hostname: "127.0.0.1",
    port: 4566,
    path: "/some/base path/./x/../",
    target: "AmazonSQS.GetQueueAttributes",
    body: JSON.stringify({ QueueUrl: "http://127.0.0.1:4566/000000000000/q", AttributeNames: ["All"] }),
    credentials: LONG_TERM,
    date: "2026-06-15T00:00:00.000Z",
  },
  {
    name: "a session token",
    region: "us-west-2",
    protocol: "https:",
    hostname: "sqs.us-west-2.amazonaws.com",
    path: "/",
    target: "AmazonSQS.ChangeMessageVisibilityBatch",
    body: JSON.stringify({ QueueUrl: "q", Entries: [{ Id: "0", ReceiptHandle: "h", VisibilityTimeout: 0 }] }),
    credentials: SESSION,
    date: "2026-12-01T14:22:30.000Z",
  },
  {
    name: "a non-ASCII body",
    region: "ap-southeast-2",
    protocol: "https:",
    hostname: "sqs.ap-southeast-2.amazonaws.com",
    path: "/",
    target: "AmazonSQS.SendMessageBatch",
    body: JSON.stringify({
      QueueUrl: "q",
      Entries: [{ Id: "0", MessageBody: '{"user_id":"Zoë","device_id":"ｄｅｖ–😀"}' }],
    }),
    credentials: SESSION,
    date: "2027-02-28T12:00:01.000Z",
  },
  {
    name: "an empty body",
    region: "eu-central-1",
    protocol: "https:",
    hostname: "sqs.eu-central-1.amazonaws.com",
    path: "/",
    target: "AmazonSQS.ListQueues",
    body: "",
    credentials: LONG_TERM,
    date: "2026-12-02T00:00:00.000Z",
  },
  {
    name: "another date with the same credentials (a new signing key)",
    region: "eu-west-1",
    protocol: "https:",
    hostname: "sqs.eu-west-1.amazonaws.com",
    path: "/",
    target: "AmazonSQS.ReceiveMessage",
    body: receive,
    credentials: LONG_TERM,
    date: "2026-12-02T00:00:00.000Z",
  },
];

const baseHeaders = (target: string) => ({
  "content-type": "application/x-amz-json-1.0",
  "x-amz-target": target,
  "x-amzn-query-mode": "true",
});

describe("the SigV4 signer", () => {
  for (const c of CASES) {
    it(`signs ${c.name} byte-identically to @smithy/signature-v4`, async () => {
      const host = c.port ? `${c.hostname}:${c.port}` : c.hostname;
      const body = Buffer.from(c.body, "utf8");
      const smithy = new SignatureV4({
        credentials: c.credentials,
        region: c.region,
        service: "sqs",
        sha256: Sha256,
      });
      const expected = await smithy.sign(
        {
          method: "POST",
          protocol: c.protocol,
          hostname: c.hostname,
          ...(c.port ? { port: c.port } : {}),
          path: c.path,
          query: {},
          headers: { ...baseHeaders(c.target), host },
          body,
        },
        { signingDate: new Date(c.date) },
      );
      const ours = createSigV4Signer({ region: c.region, service: "sqs" });
      // Twice: the second signature comes from the cached signing key and canonical path.
      for (let i = 0; i < 2; i++) {
        const headers = ours.sign(
          { method: "POST", host, path: c.path, headers: baseHeaders(c.target), body },
          c.credentials,
          Date.parse(c.date),
        );
        expect(headers.authorization).toBe(expected.headers.authorization);
        expect(headers["x-amz-date"]).toBe(expected.headers["x-amz-date"]);
        expect(headers["x-amz-content-sha256"]).toBe(expected.headers["x-amz-content-sha256"]);
        expect(headers["x-amz-security-token"]).toBe(expected.headers["x-amz-security-token"]);
      }
    });
  }

  it("uses a new signing key when the secret behind an access key id changes", async () => {
    const ours = createSigV4Signer({ region: "eu-west-1", service: "sqs" });
    const request = {
      method: "POST",
      host: "sqs.eu-west-1.amazonaws.com",
      path: "/",
      headers: baseHeaders("AmazonSQS.ReceiveMessage"),
      body: Buffer.from(receive),
    };
    const rotated = { ...LONG_TERM, secretAccessKey: "another-secret" };
    const at = Date.parse("2026-12-01T10:00:00Z");
    ours.sign(request, LONG_TERM, at);
    const smithy = new SignatureV4({
      credentials: rotated,
      region: "eu-west-1",
      service: "sqs",
      sha256: Sha256,
    });
    const expected = await smithy.sign(
      {
        method: "POST",
        protocol: "https:",
        hostname: request.host,
        path: "/",
        query: {},
        headers: { ...request.headers, host: request.host },
        body: request.body,
      },
      { signingDate: new Date(at) },
    );
    expect(ours.sign(request, rotated, at).authorization).toBe(expected.headers.authorization);
  });

  it("formats the signing time without milliseconds", () => {
    expect(amzDate(Date.parse("2026-12-01T14:22:30.999Z"))).toBe("20261201T142230Z");
  });

  it("normalises and escapes the canonical path as SQS expects", () => {
    expect(canonicalPath("/")).toBe("/");
    expect(canonicalPath("")).toBe("");
    expect(canonicalPath("/a//b/./c/../d/")).toBe("/a/b/d/");
    expect(canonicalPath("/a b/(x)")).toBe("/a%20b/%28x%29");
    // An already escaped path is escaped again (every AWS service but S3).
    expect(canonicalPath("/a%20b")).toBe("/a%2520b");
  });
});
