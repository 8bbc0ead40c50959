// What an SQS error answer is, named the way the AWS SDK names it: the JSON
// `__type` (or the x-amzn-errortype header) without its namespace, with the
// Query-protocol code of x-amzn-query-error beside it, and the kind of
// failure both point to. The body is read here and nowhere kept.

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

export type ErrorKind = "throttled" | "transient" | "clock" | "kms" | "not-found" | "access";

const named = (identity: ErrorIdentity, set: ReadonlySet<string>) =>
  set.has(identity.name) || (identity.queryCode !== undefined && set.has(identity.queryCode));

/** The kind the name or the Query code says, in order of precedence; undefined for any other name. */
export function errorKind(identity: ErrorIdentity): ErrorKind | undefined {
  if (named(identity, THROTTLED)) return "throttled";
  if (named(identity, TRANSIENT)) return "transient";
  if (named(identity, CLOCK_SKEW)) return "clock";
  if (named(identity, KMS)) return "kms";
  if (named(identity, NOT_FOUND)) return "not-found";
  if (named(identity, ACCESS)) return "access";
  return undefined;
}

export const isClockSkewError = (identity: ErrorIdentity) => named(identity, CLOCK_SKEW);
/** A refused signature that a wrong clock may explain (the client checks the server's Date). */
export const isSignatureRefused = (identity: ErrorIdentity) => named(identity, SIGNATURE_REFUSED);
export const isExpiredTokenError = (identity: ErrorIdentity) => named(identity, EXPIRED_TOKEN);
