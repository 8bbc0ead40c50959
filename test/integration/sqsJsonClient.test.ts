// The lean SQS client against the real emulator (fauxqs), and through a
// fault-injecting proxy of our own for what fauxqs never does: an HTML 503
// from a proxy, a reset connection, no answer, a damaged body, a refused
// clock, an expired session token, an endpoint of the old Query protocol.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { EtlError } from "../../src/errors.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../src/local/embeddedSqs.ts";
import type { CredentialProvider } from "../../src/sqs/credentials.ts";
import { createSqsJsonClient } from "../../src/sqs/jsonClient.ts";
import type { SqsJsonClient } from "../../src/sqs/types.ts";
import { type FaultProxy, startFaultProxy } from "../helpers/faultProxy.ts";
import { createQueue, localSqsClient } from "../helpers/stack.ts";

const endpointUrl = inject("sqsEndpointUrl");
const sdk = localSqsClient(endpointUrl);
let client: SqsJsonClient;
let proxy: FaultProxy;
let viaProxy: SqsJsonClient;

const clients: SqsJsonClient[] = [];
const lean = (options: Partial<Parameters<typeof createSqsJsonClient>[0]> = {}) => {
  const c = createSqsJsonClient({
    region: LOCAL_REGION,
    endpoint: endpointUrl,
    credentials: LOCAL_CREDENTIALS,
    maxSockets: 4,
    ...options,
  });
  clients.push(c);
  return c;
};

/** The EtlError a call rejects with. */
async function failure(promise: Promise<unknown>): Promise<EtlError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof EtlError) return err;
    throw err;
  }
  throw new Error("expected the call to fail");
}

const SYSTEM = ["SentTimestamp", "ApproximateReceiveCount"];

beforeAll(async () => {
  client = lean();
  proxy = await startFaultProxy(endpointUrl);
  viaProxy = lean({ endpoint: proxy.endpointUrl });
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  sdk.destroy();
  await proxy.close();
});

describe("the lean SQS client against fauxqs", () => {
  it("sends, receives, changes visibility, deletes and reads queue attributes", async () => {
    const queueUrl = await createQueue(sdk, "lean-flow", { VisibilityTimeout: "30" });
    // fauxqs refuses characters outside the Basic Multilingual Plane (SQS takes them): non-ASCII within it.
    const bodies = ['{"user_id":"a","ip":"198.51.100.1"}', '{"user_id":"Zoë ｄｅｖ–1"}', "third"];
    const sent = await client.sendMessageBatch({
      QueueUrl: queueUrl,
      Entries: bodies.map((MessageBody, i) => ({
        Id: String(i),
        MessageBody,
        MessageAttributes: { error_code: { DataType: "String", StringValue: `code-${i}` } },
      })),
    });
    expect(sent.Failed).toEqual([]);
    expect(sent.Successful.map((s) => s.Id).sort()).toEqual(["0", "1", "2"]);

    const received = [];
    for (let i = 0; i < 10 && received.length < 3; i++) {
      const res = await client.receiveMessage({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: SYSTEM,
        MessageAttributeNames: ["All"],
      });
      received.push(...(res.Messages ?? []));
    }
    expect(received.map((m) => m.Body).sort()).toEqual([...bodies].sort());
    for (const m of received) {
      expect(Number(m.Attributes?.SentTimestamp)).toBeGreaterThan(0);
      expect(m.Attributes?.ApproximateReceiveCount).toBe("1");
      const id = sent.Successful.find((s) => s.MessageId === m.MessageId)?.Id;
      expect(m.MessageAttributes?.error_code).toEqual({ DataType: "String", StringValue: `code-${id}` });
    }

    const first = received[0];
    if (!first?.ReceiptHandle) throw new Error("no receipt handle");
    const released = await client.changeMessageVisibilityBatch({
      QueueUrl: queueUrl,
      Entries: [{ Id: "r", ReceiptHandle: first.ReceiptHandle, VisibilityTimeout: 0 }],
    });
    expect(released).toEqual({ Successful: [{ Id: "r" }], Failed: [] });
    const again = await client.receiveMessage({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 5,
      MessageSystemAttributeNames: SYSTEM,
    });
    expect(again.Messages?.map((m) => [m.MessageId, m.Attributes?.ApproximateReceiveCount])).toEqual([
      [first.MessageId, "2"],
    ]);

    const handles = [...received.slice(1), ...(again.Messages ?? [])].map((m) => m.ReceiptHandle as string);
    const deleted = await client.deleteMessageBatch({
      QueueUrl: queueUrl,
      Entries: handles.map((ReceiptHandle, i) => ({ Id: `d${i}`, ReceiptHandle })),
    });
    expect(deleted.Failed).toEqual([]);
    expect(deleted.Successful).toHaveLength(3);

    const attributes = await client.getQueueAttributes({
      QueueUrl: queueUrl,
      AttributeNames: [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "VisibilityTimeout",
      ],
    });
    expect(attributes.Attributes).toMatchObject({
      ApproximateNumberOfMessages: "0",
      ApproximateNumberOfMessagesNotVisible: "0",
      VisibilityTimeout: "30",
    });
  });

  it("returns refused batch entries as data: id, code and sender fault, without SQS's text", async () => {
    const queueUrl = await createQueue(sdk, "lean-refused");
    const visibility = await client.changeMessageVisibilityBatch({
      QueueUrl: queueUrl,
      Entries: [{ Id: "0", ReceiptHandle: "not-a-handle", VisibilityTimeout: 5 }],
    });
    expect(visibility).toEqual({
      Successful: [],
      Failed: [{ Id: "0", Code: "ReceiptHandleIsInvalid", SenderFault: true }],
    });
    const sent = await client.sendMessageBatch({
      QueueUrl: queueUrl,
      Entries: [
        { Id: "ok", MessageBody: "fine" },
        { Id: "bad", MessageBody: "nul \u0000 inside" },
      ],
    });
    expect(sent.Successful.map((s) => s.Id)).toEqual(["ok"]);
    expect(sent.Failed).toEqual([{ Id: "bad", Code: "InvalidMessageContents", SenderFault: true }]);
  });

  it("reports a queue that does not exist as SQS_QUEUE_NOT_FOUND, not retried", async () => {
    const err = await failure(
      client.receiveMessage({
        QueueUrl: `${endpointUrl}/000000000000/no-such-queue`,
        MaxNumberOfMessages: 1,
      }),
    );
    expect(err.code).toBe("SQS_QUEUE_NOT_FOUND");
    expect(err.retryable).toBe(false);
    expect(err.context).toMatchObject({ causeName: "QueueDoesNotExist", httpStatus: 400 });
  });

  it("waits out a long poll: the request deadline is the wait plus the margin", async () => {
    const queueUrl = await createQueue(sdk, "lean-poll");
    // With a deadline of the margin alone (1.5 s) this 2 s long poll would time out.
    const patient = lean({ requestTimeoutMs: 1_500 });
    expect(
      await patient.receiveMessage({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 2 }),
    ).toEqual({});
  });

  it("refuses a plain-http queue URL when no endpoint was set, before sending anything", async () => {
    const regional = lean({ endpoint: null });
    const err = await failure(regional.receiveMessage({ QueueUrl: `${endpointUrl}/000000000000/q` }));
    expect(err.code).toBe("CONFIG_INVALID");
    expect(err.message).toMatch(/SQS_ENDPOINT_URL/);
  });
});

describe("the lean SQS client through a faulty network", () => {
  let queueUrl: string;
  beforeAll(async () => {
    queueUrl = await createQueue(sdk, "lean-faults");
  });
  const attributes = () =>
    viaProxy.getQueueAttributes({ QueueUrl: queueUrl, AttributeNames: ["ApproximateNumberOfMessages"] });

  it("treats an HTML 503 page from a proxy as retryable, and the next call goes through", async () => {
    proxy.inject({ kind: "html", status: 503 });
    const err = await failure(attributes());
    expect(err.code).toBe("SQS_REQUEST_FAILED");
    expect(err.retryable).toBe(true);
    expect(err.context).toMatchObject({ httpStatus: 503, causeName: "UnknownError" });
    expect(err.message).not.toMatch(/nginx|html/i);
    expect((await attributes()).Attributes?.ApproximateNumberOfMessages).toBe("0");
  });

  it("sends a signed AWS JSON 1.0 request as the SDK does", async () => {
    const before = proxy.requests.length;
    await attributes();
    const seen = proxy.requests[before];
    expect(seen?.operation).toBe("GetQueueAttributes");
    expect(seen?.headers).toMatchObject({
      "content-type": "application/x-amz-json-1.0",
      "x-amzn-query-mode": "true",
      "user-agent": "login-etl lean-sqs",
    });
    expect(String(seen?.headers.authorization)).toMatch(
      /^AWS4-HMAC-SHA256 Credential=test\/\d{8}\/us-east-1\/sqs\/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target;x-amzn-query-mode, Signature=[0-9a-f]{64}$/,
    );
  });

  it("treats a reset connection as SQS_UNREACHABLE, retryable", async () => {
    proxy.inject({ kind: "reset" });
    const err = await failure(attributes());
    expect(err.code).toBe("SQS_UNREACHABLE");
    expect(err.retryable).toBe(true);
    expect(err.context.causeCode).toBe("ECONNRESET");
    await attributes();
  });

  it("gives up on a request that gets no answer within its deadline", async () => {
    const impatient = lean({ endpoint: proxy.endpointUrl, requestTimeoutMs: 300 });
    proxy.inject({ kind: "hang" });
    const err = await failure(
      impatient.getQueueAttributes({ QueueUrl: queueUrl, AttributeNames: ["ApproximateNumberOfMessages"] }),
    );
    expect(err.code).toBe("SQS_UNREACHABLE");
    expect(err.retryable).toBe(true);
    expect(err.context.causeName).toBe("TimeoutError");
  });

  it("aborts a long poll under way when the shutdown signal fires, and stays usable", async () => {
    const controller = new AbortController();
    const before = proxy.requests.length;
    const polling = viaProxy.receiveMessage(
      { QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 20 },
      { abortSignal: controller.signal },
    );
    await proxy.waitForRequests(before + 1);
    controller.abort();
    const err = await failure(polling);
    expect(err.code).toBe("SQS_REQUEST_FAILED");
    expect(err.context.causeName).toBe("AbortError");
    await expect(
      viaProxy.receiveMessage({ QueueUrl: queueUrl }, { abortSignal: controller.signal }),
    ).rejects.toMatchObject({ context: { causeName: "AbortError" } });
    expect(proxy.requests.length).toBe(before + 1);
    await attributes();
  });

  it("takes the server's clock from a refused signing time and retries once", async () => {
    const hourAhead = 3_600_000;
    proxy.inject({ kind: "skew", skewMs: hourAhead });
    const before = proxy.requests.length;
    await attributes();
    await attributes();
    const signedAt = proxy.requests.slice(before).map((r) => {
      const d = String(r.headers["x-amz-date"]);
      return Date.parse(
        `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${d.slice(9, 11)}:${d.slice(11, 13)}:${d.slice(13, 15)}Z`,
      );
    });
    expect(signedAt).toHaveLength(3);
    // The refused request used this machine's clock; the retry and the next call the server's.
    expect(signedAt[1] as number).toBeGreaterThan((signedAt[0] as number) + hourAhead - 60_000);
    expect(signedAt[2] as number).toBeGreaterThan((signedAt[0] as number) + hourAhead - 60_000);
  });

  it("fetches new credentials once when SQS calls the session token expired", async () => {
    let issued = 0;
    const provider: CredentialProvider = async () => ({
      accessKeyId: "ASIATEST",
      secretAccessKey: "s",
      sessionToken: `token-${++issued}`,
      expiration: new Date(Date.now() + 3_600_000),
    });
    const temporary = lean({ endpoint: proxy.endpointUrl, credentials: provider });
    await temporary.getQueueAttributes({ QueueUrl: queueUrl, AttributeNames: ["VisibilityTimeout"] });
    proxy.inject({ kind: "json-error", status: 400, type: "ExpiredTokenException" });
    const before = proxy.requests.length;
    await temporary.getQueueAttributes({ QueueUrl: queueUrl, AttributeNames: ["VisibilityTimeout"] });
    expect(proxy.requests.slice(before).map((r) => r.headers["x-amz-security-token"])).toEqual([
      "token-1",
      "token-2",
    ]);
  });

  it("refuses a body that does not match its MD5OfBody on plain HTTP, as retryable", async () => {
    // A queue of its own: fauxqs keeps an aborted long poll on the other queue, which would take the message.
    const queueUrl = await createQueue(sdk, "lean-md5");
    await client.sendMessageBatch({
      QueueUrl: queueUrl,
      Entries: [{ Id: "0", MessageBody: '{"ip":"203.0.113.5"}' }],
    });
    proxy.inject({ kind: "damage-body" });
    const err = await failure(
      viaProxy.receiveMessage({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 5 }),
    );
    expect(err.code).toBe("SQS_REQUEST_FAILED");
    expect(err.retryable).toBe(true);
    expect(err.context.causeName).toBe("BodyChecksumMismatch");
    expect(`${err.message} ${JSON.stringify(err.context)}`).not.toContain("203.0.113");
  });

  it("names the old Query protocol when the endpoint answers with its XML", async () => {
    proxy.inject({ kind: "legacy-xml" });
    const err = await failure(attributes());
    expect(err.code).toBe("SQS_LEGACY_PROTOCOL");
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/LocalStack older than 3\.0/);
  });
});
