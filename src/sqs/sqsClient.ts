// The one place that builds the SQS client and turns SDK failures into our
// errors. SDK messages can quote request data, so only names, codes and HTTP
// statuses are carried over (describeCause).

import { Agent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { SQSClient } from "@aws-sdk/client-sqs";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { describeCause, EtlError, type Stage } from "../errors.ts";
import type { Logger } from "../ops/logger.ts";
import { Sha256KeyCache } from "./sha256KeyCache.ts";

export interface SqsSettings {
  readonly region: string;
  readonly endpointUrl: string | null;
  /** Every queue URL the client will be used with (source, DLQ): the body check follows their protocol. */
  readonly queueUrls: readonly string[];
  /** The SDK's own warnings go here (at debug level), never to the console. */
  readonly log: Logger;
  /** Only for the embedded stack; elsewhere the standard AWS credential chain applies. */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
  readonly maxSockets: number;
}

export function createSqsClient(settings: SqsSettings): SQSClient {
  const agentOptions = { keepAlive: true, maxSockets: settings.maxSockets };
  // With no endpoint set the SDK sends each request to its QueueUrl's host, so the
  // protocol that carries the bodies is the queue URL's as much as the endpoint's.
  const plainHttp = [settings.endpointUrl, ...settings.queueUrls].some((u) => u?.startsWith("http://"));
  const sdkLog = (...args: unknown[]) =>
    settings.log.debug(
      { sdk: args.map((a) => (typeof a === "string" ? a : String(a))).join(" ") },
      "aws sdk",
    );
  return new SQSClient({
    region: settings.region,
    ...(settings.endpointUrl ? { endpoint: settings.endpointUrl } : {}),
    ...(settings.credentials ? { credentials: settings.credentials } : {}),
    // Long polls hold a socket for up to 20 s: the timeout must outlast them.
    requestHandler: new NodeHttpHandler({
      httpAgent: new Agent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
      connectionTimeout: 5_000,
      requestTimeout: 30_000,
    }),
    maxAttempts: 1,
    // Without a logger the SDK writes some warnings (a legacy queue URL form) to the
    // console on every request: stdout and stderr carry only our JSON lines.
    logger: { trace: () => {}, debug: () => {}, info: () => {}, warn: sdkLog, error: sdkLog },
    // SigV4 makes two HMACs per request; with KeyObjects made once they cost a fraction (Node 24).
    sha256: Sha256KeyCache,
    // TLS already authenticates every byte of a response; the per-body MD5 check
    // stays on only where nothing else does (plain http, allowed only with an endpoint
    // override, such as an emulator).
    ...(plainHttp ? {} : { md5: false }),
  });
}

const ACCESS = new Set([
  "AccessDenied",
  "AccessDeniedException",
  "InvalidClientTokenId",
  "UnrecognizedClientException",
  "SignatureDoesNotMatch",
  "InvalidSecurity",
  "CredentialsProviderError",
]);
const NOT_FOUND = new Set([
  "QueueDoesNotExist",
  "AWS.SimpleQueueService.NonExistentQueue",
  "NonExistentQueue",
]);
const NETWORK =
  /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|UND_ERR_\w+)$/;
/** 4xx answers that a later try may get past; every other 4xx names a fault of the request itself. */
const TRANSIENT_4XX = /Throttl|RequestTimeout|RequestTimeTooSkewed|OverLimit|TooManyRequests/;

interface SdkFailure {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string> };
}

/**
 * Only a positive sign of the old Query protocol counts: its own error names, an
 * XML ErrorResponse, or HTTP 415. A proxy's HTML error page, a 5xx or a reset is
 * an outage to wait out, not a protocol to report.
 */
function speaksQueryProtocol(e: SdkFailure, status: number | undefined): boolean {
  if (e.name === "UnknownOperationException" || e.name === "InvalidAction" || status === 415) return true;
  if (e.name !== "SyntaxError" || status === undefined) return false;
  const type = e.$response?.headers?.["content-type"] ?? "";
  // The SDK's parse error quotes the first characters of the body: `"<ErrorResp"...`.
  return /"<ErrorResp/.test(e.message ?? "") || (/xml/i.test(type) && !/html/i.test(type));
}

/** Maps an SDK failure of `operation` on `queue` (a URL, not secret) to an EtlError. */
export function sqsError(
  err: unknown,
  operation: string,
  queue: string,
  stage: Stage = "receiving",
): EtlError {
  const e = (err ?? {}) as SdkFailure;
  const name = e.name ?? "Error";
  const status = e.$metadata?.httpStatusCode;
  const context = { operation, queue, ...describeCause(err) };
  if (speaksQueryProtocol(e, status)) {
    return new EtlError(
      "SQS_LEGACY_PROTOCOL",
      `the SQS endpoint does not speak the AWS JSON protocol that current AWS SDKs use (it answered ${operation} with ${name}${status ? `, HTTP ${status}` : ""}). LocalStack older than 3.0 (for example the fetchdocker/data-takehome-localstack image) speaks only the old Query protocol: upgrade to LocalStack 3 or later, or use another current emulator such as fauxqs.`,
      { cause: err, context, stage, retryable: false },
    );
  }
  if (ACCESS.has(name) || status === 403) {
    return new EtlError(
      "SQS_ACCESS_DENIED",
      `SQS refused ${operation} on ${queue} (${name}): check the AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the instance role) and the queue's permissions`,
      { cause: err, context, stage, retryable: false },
    );
  }
  if (NOT_FOUND.has(name)) {
    return new EtlError(
      "SQS_QUEUE_NOT_FOUND",
      `queue ${queue} does not exist (${operation}): check SQS_QUEUE_URL / SQS_DLQ_URL and AWS_REGION`,
      { cause: err, context, stage, retryable: false },
    );
  }
  if (NETWORK.test(e.code ?? "") || NETWORK.test(name) || name === "TimeoutError") {
    return new EtlError(
      "SQS_UNREACHABLE",
      `cannot reach the SQS endpoint for ${operation} (${e.code ?? name})`,
      { cause: err, context, stage },
    );
  }
  // A JSON error the queue itself sent (a KMS key it cannot use, a parameter it refuses):
  // the same request will be refused again.
  if (
    status !== undefined &&
    status >= 400 &&
    status < 500 &&
    name !== "SyntaxError" &&
    !TRANSIENT_4XX.test(name)
  ) {
    return new EtlError(
      name.startsWith("Kms") ? "SQS_KMS_FAILED" : "SQS_REQUEST_INVALID",
      `SQS refused ${operation} on ${queue} (${name}, HTTP ${status}): retrying the same request cannot help`,
      { cause: err, context, stage, retryable: false },
    );
  }
  return new EtlError(
    "SQS_REQUEST_FAILED",
    `SQS ${operation} failed (${name}${status ? `, HTTP ${status}` : ""})`,
    { cause: err, context, stage },
  );
}
