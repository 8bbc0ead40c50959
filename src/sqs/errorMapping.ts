// SQS answers and transport failures → the project's error catalogue. An
// answer is named the way the AWS SDK names it (the JSON `__type`, or the
// x-amzn-errortype header, without its namespace), with the Query-protocol code
// of x-amzn-query-error beside it. The message body is read to classify and
// then dropped: SQS messages can quote request data, so errors carry only the
// name, the Query code and the HTTP status.
import { EtlError, type Stage } from "../errors.ts";

/** Which call failed, for the message and the context (a queue URL is not secret). */
export interface SqsCall {
  readonly operation: string;
  readonly queue: string;
  readonly stage: Stage;
}

export interface ErrorAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

export interface ErrorIdentity {
  /** SDK-like error name ("QueueDoesNotExist"), or "UnknownError" when the answer names none. */
  readonly name: string;
  /** The Query-protocol code of x-amzn-query-error ("AWS.SimpleQueueService.NonExistentQueue"). */
  readonly queryCode: string | undefined;
  /** True when the body was a JSON object. */
  readonly json: boolean;
  /** True when the answer positively shows the old Query protocol. */
  readonly legacy: boolean;
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

const header = (headers: ErrorAnswer["headers"], name: string): string | undefined => {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** "com.amazonaws.sqs#QueueDoesNotExist:http://internal/" → "QueueDoesNotExist" (as the SDK sanitises it). */
export function sanitizeErrorName(raw: string): string {
  let name = raw;
  const colon = name.indexOf(":");
  if (colon >= 0) name = name.slice(0, colon);
  const hash = name.lastIndexOf("#");
  if (hash >= 0) name = name.slice(hash + 1);
  return name.trim();
}

const UNKNOWN_OPERATION = new Set(["UnknownOperationException", "UnknownOperation", "InvalidAction"]);
const UNKNOWN_OPERATION_TEXT = /unknown[\s_-]*(operation|action)/i;
// The Query protocol's XML: an error document, or any document in its namespace.
const QUERY_XML = /<ErrorResponse[\s>]|xmlns="https?:\/\/queue\.amazonaws\.com\/doc\//;

export function identifyError(answer: ErrorAnswer): ErrorIdentity {
  const query = header(answer.headers, "x-amzn-query-error");
  const queryCode = query ? query.split(";")[0]?.trim() || undefined : undefined;
  let parsed: unknown;
  try {
    parsed = answer.body ? JSON.parse(answer.body) : undefined;
  } catch {
    parsed = undefined;
  }
  const json = typeof parsed === "object" && parsed !== null && !Array.isArray(parsed);
  const fields = json ? (parsed as Record<string, unknown>) : {};
  const rawName =
    header(answer.headers, "x-amzn-errortype") ??
    [fields.__type, fields.code, fields.Code].find((v): v is string => typeof v === "string");
  const name = rawName ? sanitizeErrorName(rawName) || "UnknownError" : "UnknownError";
  const clientError = answer.status >= 400 && answer.status < 500;
  const legacy =
    answer.status === 415 ||
    (!json && QUERY_XML.test(answer.body)) ||
    name === "UnknownOperationException" ||
    (clientError && (UNKNOWN_OPERATION.has(name) || UNKNOWN_OPERATION_TEXT.test(answer.body)));
  return { name, queryCode, json, legacy };
}

const THROTTLED = new Set([
  "ThrottlingException",
  "Throttling",
  "RequestThrottled",
  "RequestThrottledException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "OverLimit",
  "KmsThrottled",
  "KMS.ThrottlingException",
]);
const TRANSIENT = new Set([
  "ServiceUnavailable",
  "ServiceUnavailableException",
  "InternalError",
  "InternalFailure",
  "InternalServerError",
  "RequestTimeout",
  "RequestTimeoutException",
  "AWS.SimpleQueueService.ServiceUnavailable",
]);
// The server says outright that the signing time is wrong.
const CLOCK_SKEW = new Set([
  "RequestTimeTooSkewed",
  "RequestExpired",
  "RequestInTheFuture",
  "SignatureExpired",
]);
// Also sent for a signature that is too old (InvalidSignatureException: "Signature expired"), and for a wrong secret.
const SIGNATURE_REFUSED = new Set(["InvalidSignatureException", "SignatureDoesNotMatch", "AuthFailure"]);
const EXPIRED_TOKEN = new Set(["ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired"]);
const ACCESS = new Set([
  "AccessDenied",
  "AccessDeniedException",
  "InvalidClientTokenId",
  "UnrecognizedClientException",
  ...SIGNATURE_REFUSED,
  "IncompleteSignature",
  "MissingAuthenticationToken",
  "InvalidSecurity",
  "AWS.SimpleQueueService.InvalidSecurity",
  ...EXPIRED_TOKEN,
]);
const KMS = new Set([
  "KmsAccessDenied",
  "KmsDisabled",
  "KmsInvalidKeyUsage",
  "KmsInvalidState",
  "KmsNotFound",
  "KmsOptInRequired",
  "KMS.AccessDeniedException",
  "KMS.DisabledException",
  "KMS.InvalidKeyUsageException",
  "KMS.InvalidStateException",
  "KMS.NotFoundException",
  "KMS.OptInRequired",
]);
const NOT_FOUND = new Set([
  "QueueDoesNotExist",
  "AWS.SimpleQueueService.NonExistentQueue",
  "NonExistentQueue",
]);

const named = (identity: ErrorIdentity, set: ReadonlySet<string>) =>
  set.has(identity.name) || (identity.queryCode !== undefined && set.has(identity.queryCode));

export const isClockSkewError = (identity: ErrorIdentity) => named(identity, CLOCK_SKEW);
/** A refused signature that a wrong clock may explain (the client checks the server's Date). */
export const isSignatureRefused = (identity: ErrorIdentity) => named(identity, SIGNATURE_REFUSED);
export const isExpiredTokenError = (identity: ErrorIdentity) => named(identity, EXPIRED_TOKEN);

/** The project's wording since the SDK days (src/sources/sqsClient.ts): users search for it. */
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
  if (named(identity, THROTTLED) || status === 429)
    return new EtlError(
      "SQS_REQUEST_FAILED",
      `SQS throttled ${call.operation} (${what}): retried with back-off`,
      options(true),
    );
  if (named(identity, TRANSIENT) || status >= 500 || status === 408)
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
  if (named(identity, CLOCK_SKEW))
    return new EtlError(
      "SQS_REQUEST_FAILED",
      `SQS refused the signing time of ${call.operation} (${what}): the machine's clock is off; later requests use the server's time`,
      options(true),
    );
  if (named(identity, KMS))
    return new EtlError(
      "SQS_KMS_FAILED",
      `the KMS key of ${call.queue} refused ${call.operation} (${what}): check that the key exists, is enabled, and that its policy lets this role use it`,
      options(false),
    );
  if (named(identity, NOT_FOUND))
    return new EtlError(
      "SQS_QUEUE_NOT_FOUND",
      `queue ${call.queue} does not exist (${call.operation}): check SQS_QUEUE_URL / SQS_DLQ_URL and AWS_REGION`,
      options(false),
    );
  if (named(identity, ACCESS) || (status === 403 && name === "UnknownError"))
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
