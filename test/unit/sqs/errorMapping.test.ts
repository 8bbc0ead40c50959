// SQS answers, as recorded from fauxqs and as AWS documents them, mapped to
// the error catalogue: what is retried, what is not, and what names the old
// Query protocol. Nothing of a message body may reach the error.
import { describe, expect, it } from "vitest";
import type { ErrorCode } from "../../../src/errors.ts";
import { type ErrorAnswer, identifyError, sanitizeErrorName } from "../../../src/sqs/errorIdentity.ts";
import { errorFromAnswer, errorFromFailure, errorFromRefusedEntries } from "../../../src/sqs/errorMapping.ts";

const call = {
  operation: "ReceiveMessage",
  queue: "https://sqs.eu-west-1.amazonaws.com/1/q",
  stage: "receiving" as const,
};
const JSON_TYPE = { "content-type": "application/x-amz-json-1.0" };
// A value that must never be copied into an error (SQS texts can quote request data).
const SECRET = "203.0.113.77";

interface Row {
  readonly name: string;
  readonly answer: ErrorAnswer;
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly causeName: string;
}

const json = (status: number, body: object, headers: Record<string, string> = {}): ErrorAnswer => ({
  status,
  headers: { ...JSON_TYPE, ...headers },
  body: JSON.stringify(body),
});

const ROWS: Row[] = [
  {
    name: "QueueDoesNotExist (recorded from fauxqs)",
    answer: json(
      400,
      {
        __type: "com.amazonaws.sqs#QueueDoesNotExist",
        message: `The specified queue does not exist. ${SECRET}`,
      },
      { "x-amzn-query-error": "AWS.SimpleQueueService.NonExistentQueue;Sender" },
    ),
    code: "SQS_QUEUE_NOT_FOUND",
    retryable: false,
    causeName: "QueueDoesNotExist",
  },
  {
    name: "only the Query code of a missing queue",
    answer: json(
      400,
      { message: "gone" },
      { "x-amzn-query-error": "AWS.SimpleQueueService.NonExistentQueue;Sender" },
    ),
    code: "SQS_QUEUE_NOT_FOUND",
    retryable: false,
    causeName: "UnknownError",
  },
  {
    name: "InvalidParameterValue (recorded from fauxqs)",
    answer: json(
      400,
      {
        __type: "com.amazonaws.sqs#InvalidParameterValue",
        message: `Value ${SECRET} for parameter is invalid.`,
      },
      { "x-amzn-query-error": "AWS.SimpleQueueService.InvalidParameterValue;Sender" },
    ),
    code: "SQS_REQUEST_INVALID",
    retryable: false,
    causeName: "InvalidParameterValue",
  },
  {
    name: "AccessDeniedException from the coral namespace",
    answer: json(
      400,
      {
        __type: "com.amazon.coral.service#AccessDeniedException",
        Message: `User ${SECRET} is not authorized`,
      },
      { "x-amzn-query-error": "AccessDenied;Sender" },
    ),
    code: "SQS_ACCESS_DENIED",
    retryable: false,
    causeName: "AccessDeniedException",
  },
  {
    name: "an unrecognised access key named by the x-amzn-errortype header",
    answer: json(
      400,
      {},
      { "x-amzn-errortype": "UnrecognizedClientException:http://internal.amazon.com/coral/" },
    ),
    code: "SQS_ACCESS_DENIED",
    retryable: false,
    causeName: "UnrecognizedClientException",
  },
  {
    name: "a KMS key that is disabled",
    answer: json(
      400,
      { __type: "com.amazonaws.sqs#KmsDisabled" },
      { "x-amzn-query-error": "KMS.DisabledException;Sender" },
    ),
    code: "SQS_KMS_FAILED",
    retryable: false,
    causeName: "KmsDisabled",
  },
  {
    name: "KMS access denied known only by its Query code",
    answer: json(
      400,
      { __type: "com.amazonaws.sqs#Unlisted" },
      { "x-amzn-query-error": "KMS.AccessDeniedException;Sender" },
    ),
    code: "SQS_KMS_FAILED",
    retryable: false,
    causeName: "Unlisted",
  },
  {
    name: "a throttled KMS key",
    answer: json(
      400,
      { __type: "com.amazonaws.sqs#KmsThrottled" },
      { "x-amzn-query-error": "KMS.ThrottlingException;Sender" },
    ),
    code: "SQS_REQUEST_FAILED",
    retryable: true,
    causeName: "KmsThrottled",
  },
  {
    name: "RequestThrottled",
    answer: json(400, { __type: "com.amazonaws.sqs#RequestThrottled" }),
    code: "SQS_REQUEST_FAILED",
    retryable: true,
    causeName: "RequestThrottled",
  },
  {
    name: "OverLimit (too many messages in flight)",
    answer: json(
      403,
      { __type: "com.amazonaws.sqs#OverLimit" },
      { "x-amzn-query-error": "AWS.SimpleQueueService.OverLimit;Sender" },
    ),
    code: "SQS_REQUEST_FAILED",
    retryable: true,
    causeName: "OverLimit",
  },
  {
    name: "HTTP 429 without a name",
    answer: { status: 429, headers: {}, body: "" },
    code: "SQS_REQUEST_FAILED",
    retryable: true,
    causeName: "UnknownError",
  },
  {
    name: "InternalError with HTTP 500",
    answer: json(500, { __type: "com.amazonaws.sqs#InternalError" }),
    code: "SQS_REQUEST_FAILED",
    retryable: true,
    causeName: "InternalError",
  },
  {
    name: "ServiceUnavailable with HTTP 503",
    answer: json(503, { __type: "ServiceUnavailable" }),
    code: "SQS_REQUEST_FAILED",
    retryable: true,
    causeName: "ServiceUnavailable",
  },
  {
    name: "an HTML 503 page from a proxy",
    answer: {
      status: 503,
      headers: { "content-type": "text/html" },
      body: `<html><body><h1>503 Service Unavailable</h1>${SECRET}</body></html>`,
    },
    code: "SQS_REQUEST_FAILED",
    retryable: true,
    causeName: "UnknownError",
  },
  {
    name: "an HTML 502 page that mentions an unknown operation",
    answer: {
      status: 502,
      headers: { "content-type": "text/html" },
      body: "<html>Unknown operation upstream</html>",
    },
    code: "SQS_REQUEST_FAILED",
    retryable: true,
    causeName: "UnknownError",
  },
  {
    name: "a 200 whose body is not JSON",
    answer: { status: 200, headers: { "content-type": "text/html" }, body: "<html>captive portal</html>" },
    code: "SQS_REQUEST_FAILED",
    retryable: true,
    causeName: "UnknownError",
  },
  {
    name: "a refused signing time",
    answer: json(400, { __type: "com.amazon.coral.service#RequestTimeTooSkewed" }),
    code: "SQS_REQUEST_FAILED",
    retryable: true,
    causeName: "RequestTimeTooSkewed",
  },
  {
    name: "a signature that does not match (a wrong secret)",
    answer: json(403, { __type: "com.amazon.coral.service#SignatureDoesNotMatch" }),
    code: "SQS_ACCESS_DENIED",
    retryable: false,
    causeName: "SignatureDoesNotMatch",
  },
  {
    name: "an anonymous 403 page",
    answer: { status: 403, headers: { "content-type": "text/html" }, body: "<html>Forbidden</html>" },
    code: "SQS_ACCESS_DENIED",
    retryable: false,
    causeName: "UnknownError",
  },
  {
    name: "PurgeQueueInProgress, a 403 that is not about access",
    answer: json(403, { __type: "com.amazonaws.sqs#PurgeQueueInProgress" }),
    code: "SQS_REQUEST_INVALID",
    retryable: false,
    causeName: "PurgeQueueInProgress",
  },
  {
    name: "the Query protocol's XML error with HTTP 500 (LocalStack < 3)",
    answer: {
      status: 500,
      headers: { "content-type": "text/xml" },
      body: "<ErrorResponse><Error><Type>Sender</Type><Code>UnknownOperationException</Code><Message>Unknown operation</Message></Error></ErrorResponse>",
    },
    code: "SQS_LEGACY_PROTOCOL",
    retryable: false,
    causeName: "UnknownError",
  },
  {
    name: "the Query protocol's XML error with HTTP 400",
    answer: {
      status: 400,
      headers: { "content-type": "text/xml" },
      body: '<?xml version="1.0"?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error><Code>MissingAction</Code></Error></ErrorResponse>',
    },
    code: "SQS_LEGACY_PROTOCOL",
    retryable: false,
    causeName: "UnknownError",
  },
  {
    name: "UnknownOperationException as JSON",
    answer: json(400, { __type: "UnknownOperationException" }),
    code: "SQS_LEGACY_PROTOCOL",
    retryable: false,
    causeName: "UnknownOperationException",
  },
  {
    name: "InvalidAction naming an unknown action (recorded from fauxqs)",
    answer: json(400, { __type: "com.amazonaws.sqs#InvalidAction", message: "Unknown action: NoSuchOp" }),
    code: "SQS_LEGACY_PROTOCOL",
    retryable: false,
    causeName: "InvalidAction",
  },
  {
    name: "a plain-text 404 naming an unknown operation",
    answer: {
      status: 404,
      headers: { "content-type": "text/plain" },
      body: "Unknown operation AmazonSQS.ReceiveMessage",
    },
    code: "SQS_LEGACY_PROTOCOL",
    retryable: false,
    causeName: "UnknownError",
  },
  {
    name: "HTTP 415",
    answer: { status: 415, headers: {}, body: "" },
    code: "SQS_LEGACY_PROTOCOL",
    retryable: false,
    causeName: "UnknownError",
  },
];

describe("mapping an SQS error answer", () => {
  for (const row of ROWS) {
    it(`maps ${row.name} to ${row.code}${row.retryable ? ", retried" : ", not retried"}`, () => {
      const err = errorFromAnswer(row.answer, call);
      expect(err.code).toBe(row.code);
      expect(err.retryable).toBe(row.retryable);
      expect(err.stage).toBe("receiving");
      expect(err.context).toMatchObject({
        operation: "ReceiveMessage",
        causeName: row.causeName,
        httpStatus: row.answer.status,
      });
      const cause = err.cause as Error & { $metadata: { httpStatusCode: number } };
      expect(cause.name).toBe(row.causeName);
      expect(cause.$metadata.httpStatusCode).toBe(row.answer.status);
      const printed = `${err.message} ${JSON.stringify(err.context)} ${cause.message}`;
      expect(printed).not.toContain(SECRET);
      expect(printed).not.toMatch(/specified queue|not authorized|<html/i);
    });
  }

  it("keeps the wording users know for the old Query protocol", () => {
    const err = errorFromAnswer(json(400, { __type: "UnknownOperationException" }), call);
    expect(err.message).toBe(
      "the SQS endpoint does not speak the AWS JSON protocol that current AWS SDKs use (it answered ReceiveMessage with UnknownOperationException, HTTP 400). LocalStack older than 3.0 (for example the fetchdocker/data-takehome-localstack image) speaks only the old Query protocol: upgrade to LocalStack 3 or later, or use another current emulator such as fauxqs.",
    );
  });

  it("carries the Query error code beside the name", () => {
    const err = errorFromAnswer(ROWS[0]?.answer as ErrorAnswer, call);
    expect(err.context.queryErrorCode).toBe("AWS.SimpleQueueService.NonExistentQueue");
  });

  it("names errors the way the SDK sanitises them", () => {
    expect(sanitizeErrorName("com.amazonaws.sqs#QueueDoesNotExist")).toBe("QueueDoesNotExist");
    expect(sanitizeErrorName("UnrecognizedClientException:http://internal.amazon.com/coral/")).toBe(
      "UnrecognizedClientException",
    );
    expect(sanitizeErrorName("aws.protocoltests#ns#Throttling:x")).toBe("Throttling");
    expect(identifyError({ status: 500, headers: {}, body: "[1,2]" }).json).toBe(false);
  });
});

describe("mapping a failure without an answer", () => {
  const failures: Array<[string, unknown, ErrorCode, boolean]> = [
    [
      "a reset connection",
      Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }),
      "SQS_UNREACHABLE",
      true,
    ],
    [
      "a refused connection",
      Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
      "SQS_UNREACHABLE",
      true,
    ],
    [
      "an unknown host",
      Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" }),
      "SQS_UNREACHABLE",
      true,
    ],
    ["a timeout", Object.assign(new Error("no answer"), { name: "TimeoutError" }), "SQS_UNREACHABLE", true],
    ["an abort", Object.assign(new Error("aborted"), { name: "AbortError" }), "SQS_REQUEST_FAILED", true],
    [
      "a body that fails its MD5",
      Object.assign(new Error("x"), { name: "BodyChecksumMismatch" }),
      "SQS_REQUEST_FAILED",
      true,
    ],
    [
      "no credentials anywhere",
      Object.assign(new Error("Could not load credentials from any providers"), {
        name: "CredentialsProviderError",
      }),
      "SQS_ACCESS_DENIED",
      false,
    ],
  ];
  for (const [name, err, code, retryable] of failures) {
    it(`maps ${name} to ${code}${retryable ? ", retried" : ", not retried"}`, () => {
      const mapped = errorFromFailure(err, { ...call, stage: "acking" });
      expect(mapped.code).toBe(code);
      expect(mapped.retryable).toBe(retryable);
      expect(mapped.stage).toBe("acking");
      expect(mapped.context.causeName).toBe((err as Error).name);
    });
  }
});

describe("entries SQS refused in a batch that succeeded (produce)", () => {
  const send = { operation: "SendMessageBatch", queue: call.queue, stage: "processing" as const };

  it("is SQS_REQUEST_INVALID, not retried, when every refused entry is the sender's fault", () => {
    const err = errorFromRefusedEntries(
      [
        { Id: "0", Code: "MissingParameter", SenderFault: true },
        { Id: "1", Code: "InvalidMessageContents", SenderFault: true },
        { Id: "2", Code: "MissingParameter", SenderFault: true },
      ],
      10,
      send,
    );
    expect(err.code).toBe("SQS_REQUEST_INVALID");
    expect(err.retryable).toBe(false);
    expect(err.stage).toBe("processing");
    expect(err.message).toBe(
      `SQS refused 3 of 10 entries of SendMessageBatch on ${call.queue} (InvalidMessageContents, MissingParameter): sending the same entries again cannot help`,
    );
    expect(err.context).toMatchObject({ refused: 3, entries: 10 });
  });

  it("is SQS_REQUEST_FAILED, retryable, when SQS itself failed an entry", () => {
    const err = errorFromRefusedEntries(
      [
        { Id: "0", Code: "InternalError", SenderFault: false },
        { Id: "1", Code: "MissingParameter", SenderFault: true },
      ],
      2,
      send,
    );
    expect(err.code).toBe("SQS_REQUEST_FAILED");
    expect(err.retryable).toBe(true);
    expect(err.context.refusedCodes).toEqual(["InternalError", "MissingParameter"]);
  });
});
