// SQS answers and transport failures → the project's error catalogue. What an
// answer is comes from src/sqs/errorIdentity.ts; errors carry only its name,
// Query code and HTTP status: SQS's text can quote request data.
import { EtlError, type Stage } from "../errors.ts";
import { type ErrorAnswer, type ErrorIdentity, errorKind, identifyError } from "./errorIdentity.ts";
import type { BatchResultErrorEntry } from "./types.ts";

/** Which call failed, for the message and the context (a queue URL is not secret). */
export interface SqsCall {
  readonly operation: string;
  readonly queue: string;
  readonly stage: Stage;
}

/** What the cause of an EtlError from an answer looks like: the SDK's shape, without a message. */
export class SqsServiceError extends Error {
  readonly $metadata: { readonly httpStatusCode: number };
  readonly code: string | undefined;
  constructor(identity: ErrorIdentity, status: number) {
    super(`${identity.name} (HTTP ${status})`);
    this.name = identity.name;
    this.code = identity.queryCode;
    this.$metadata = { httpStatusCode: status };
  }
}

/** The project's wording since the SDK days (the AWS SDK client it used before the lean one): users search for it. */
export function legacyProtocolMessage(operation: string, name: string, status: number | undefined): string {
  return `the SQS endpoint does not speak the AWS JSON protocol that current AWS SDKs use (it answered ${operation} with ${name}${status ? `, HTTP ${status}` : ""}). LocalStack older than 3.0 (for example the fetchdocker/data-takehome-localstack image) speaks only the old Query protocol: upgrade to LocalStack 3 or later, or use another current emulator such as fauxqs.`;
}

/** Maps an error answer (any status ≥ 300, or a 2xx whose body is not JSON) of `call` to an EtlError. */
export function errorFromAnswer(answer: ErrorAnswer, call: SqsCall): EtlError {
  const identity = identifyError(answer);
  const { name, queryCode } = identity;
  const status = answer.status;
  const cause = new SqsServiceError(identity, status);
  const context = {
    operation: call.operation,
    queue: call.queue,
    causeName: name,
    httpStatus: status,
    ...(queryCode ? { queryErrorCode: queryCode } : {}),
  };
  const options = (retryable: boolean) => ({ cause, context, stage: call.stage, retryable });
  const what = `${name}, HTTP ${status}`;
  if (identity.legacy)
    return new EtlError(
      "SQS_LEGACY_PROTOCOL",
      legacyProtocolMessage(call.operation, name, status),
      options(false),
    );
  const kind = errorKind(identity);
  if (kind === "throttled" || status === 429)
    return new EtlError(
      "SQS_REQUEST_FAILED",
      `SQS throttled ${call.operation} (${what}): retried with back-off`,
      options(true),
    );
  if (kind === "transient" || status >= 500 || status === 408)
    return new EtlError(
      "SQS_REQUEST_FAILED",
      `SQS ${call.operation} failed (${what}): retried with back-off`,
      options(true),
    );
  if (!identity.json && status < 300)
    return new EtlError(
      "SQS_REQUEST_FAILED",
      `SQS ${call.operation} answered HTTP ${status} with a body that is not JSON: retried with back-off`,
      options(true),
    );
  if (kind === "clock")
    return new EtlError(
      "SQS_REQUEST_FAILED",
      `SQS refused the signing time of ${call.operation} (${what}): the machine's clock is off; later requests use the server's time`,
      options(true),
    );
  if (kind === "kms")
    return new EtlError(
      "SQS_KMS_FAILED",
      `the KMS key of ${call.queue} refused ${call.operation} (${what}): check that the key exists, is enabled, and that its policy lets this role use it`,
      options(false),
    );
  if (kind === "not-found")
    return new EtlError(
      "SQS_QUEUE_NOT_FOUND",
      `queue ${call.queue} does not exist (${call.operation}): check SQS_QUEUE_URL / SQS_DLQ_URL and AWS_REGION`,
      options(false),
    );
  if (kind === "access" || (status === 403 && name === "UnknownError"))
    return new EtlError(
      "SQS_ACCESS_DENIED",
      `SQS refused ${call.operation} on ${call.queue} (${name}): check the AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the instance role) and the queue's permissions`,
      options(false),
    );
  if (status >= 400 && status < 500)
    return new EtlError(
      "SQS_REQUEST_INVALID",
      `SQS refused ${call.operation} on ${call.queue} as invalid (${what}): retrying the same request cannot help`,
      options(false),
    );
  // A 3xx (a redirect SQS never sends) or anything else unexpected: worth another try.
  return new EtlError("SQS_REQUEST_FAILED", `SQS ${call.operation} failed (${what})`, options(true));
}

const NETWORK =
  /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|ENETDOWN|ECONNABORTED|EPROTO|ERR_SOCKET_CONNECTION_TIMEOUT|ERR_STREAM_PREMATURE_CLOSE|HPE_\w+|UND_ERR_\w+)$/;

/** Maps a failure without an answer (network, timeout, abort, a corrupt body) of `call` to an EtlError. */
export function errorFromFailure(err: unknown, call: SqsCall): EtlError {
  const e = err as { name?: unknown; code?: unknown; message?: unknown } | null;
  const name = typeof e?.name === "string" ? e.name : "Error";
  const code = typeof e?.code === "string" ? e.code : undefined;
  const context = {
    operation: call.operation,
    queue: call.queue,
    causeName: name,
    ...(code ? { causeCode: code } : {}),
  };
  const options = { cause: err, context, stage: call.stage, retryable: true };
  if (name === "CredentialsProviderError")
    return new EtlError(
      "SQS_ACCESS_DENIED",
      `no AWS credentials for ${call.operation}: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE, or run with an instance, task or pod role`,
      { ...options, retryable: false },
    );
  if (name === "BodyChecksumMismatch")
    return new EtlError(
      "SQS_REQUEST_FAILED",
      `a message body in the answer to ${call.operation} did not match its MD5OfBody (damaged on the way over plain HTTP): retried; the messages return after their visibility timeout`,
      options,
    );
  if (name === "AbortError")
    return new EtlError("SQS_REQUEST_FAILED", `SQS ${call.operation} was aborted (shutting down)`, options);
  if (name === "TimeoutError" || (code !== undefined && NETWORK.test(code)))
    return new EtlError(
      "SQS_UNREACHABLE",
      `cannot reach the SQS endpoint for ${call.operation} (${code ?? name})`,
      options,
    );
  return new EtlError("SQS_REQUEST_FAILED", `SQS ${call.operation} failed (${code ?? name})`, options);
}

/**
 * Maps the entries SQS refused in a batch call that itself succeeded (for a caller that
 * needs every entry through, such as `produce`) to an EtlError. Only when every refused
 * entry is the sender's fault is sending them again hopeless.
 */
export function errorFromRefusedEntries(
  refused: readonly BatchResultErrorEntry[],
  entries: number,
  call: SqsCall,
): EtlError {
  const codes = [...new Set(refused.map((f) => f.Code))].sort();
  const senderFault = refused.length > 0 && refused.every((f) => f.SenderFault);
  const context = {
    operation: call.operation,
    queue: call.queue,
    refused: refused.length,
    entries,
    refusedCodes: codes,
  };
  const what = `SQS refused ${refused.length} of ${entries} entries of ${call.operation} on ${call.queue} (${codes.join(", ")})`;
  return senderFault
    ? new EtlError("SQS_REQUEST_INVALID", `${what}: sending the same entries again cannot help`, {
        context,
        stage: call.stage,
        retryable: false,
      })
    : new EtlError("SQS_REQUEST_FAILED", what, { context, stage: call.stage, retryable: true });
}
