// The one place that builds the SQS client and turns SDK failures into our
// errors. SDK messages can quote request data, so only names, codes and HTTP
// statuses are carried over (describeCause).

import { Agent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { SQSClient } from "@aws-sdk/client-sqs";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { describeCause, EtlError, type Stage } from "../errors.ts";
import { Sha256KeyCache } from "./sha256KeyCache.ts";

export interface SqsSettings {
  readonly region: string;
  readonly endpointUrl: string | null;
  /** Only for the embedded stack; elsewhere the standard AWS credential chain applies. */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
  readonly maxSockets: number;
}

export function createSqsClient(settings: SqsSettings): SQSClient {
  const agentOptions = { keepAlive: true, maxSockets: settings.maxSockets };
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
    // SigV4 makes two HMACs per request; with KeyObjects made once they cost a fraction (Node 24).
    sha256: Sha256KeyCache,
    // TLS already authenticates every byte of a response; the per-body MD5 check
    // stays on only where nothing else does (a plain-http endpoint such as an emulator).
    ...(settings.endpointUrl?.startsWith("http://") ? {} : { md5: false }),
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

/** Maps an SDK failure of `operation` on `queue` (a URL, not secret) to an EtlError. */
export function sqsError(
  err: unknown,
  operation: string,
  queue: string,
  stage: Stage = "receiving",
): EtlError {
  const e = err as {
    name?: string;
    code?: string;
    $metadata?: { httpStatusCode?: number };
    message?: string;
  };
  const name = e?.name ?? "Error";
  const status = e?.$metadata?.httpStatusCode;
  const context = { operation, queue, ...describeCause(err) };
  if (
    name === "UnknownOperationException" ||
    status === 415 ||
    (name === "SyntaxError" && status !== undefined) ||
    /Deserialization error/i.test(e?.message ?? "")
  ) {
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
      {
        cause: err,
        context,
        stage,
        retryable: false,
      },
    );
  }
  if (NETWORK.test(e?.code ?? "") || NETWORK.test(name) || name === "TimeoutError") {
    return new EtlError(
      "SQS_UNREACHABLE",
      `cannot reach the SQS endpoint for ${operation} (${e?.code ?? name})`,
      { cause: err, context, stage },
    );
  }
  return new EtlError(
    "SQS_REQUEST_FAILED",
    `SQS ${operation} failed (${name}${status ? `, HTTP ${status}` : ""})`,
    { cause: err, context, stage },
  );
}
