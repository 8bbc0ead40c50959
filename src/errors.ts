// One error type for everything that is not bad input (bad input is data: see
// transform/loginEvent.ts). Each error has a stable code, the stage it happened
// in, and context that is safe to print: never a message body, never a raw
// ip/device_id, never a key.

export type Stage =
  | "config"
  | "receiving"
  | "processing"
  | "writing"
  | "dead-lettering"
  | "acking"
  | "shutdown"
  | "vault";

/** The catalogue; README.md "Error codes" documents each one. */
export const ERROR_CODES = {
  CONFIG_INVALID: { stage: "config", exitCode: 2 },
  USAGE_INVALID: { stage: "config", exitCode: 2 },
  SQS_UNREACHABLE: { stage: "receiving", exitCode: 1 },
  SQS_LEGACY_PROTOCOL: { stage: "receiving", exitCode: 1 },
  SQS_ACCESS_DENIED: { stage: "receiving", exitCode: 1 },
  SQS_QUEUE_NOT_FOUND: { stage: "receiving", exitCode: 1 },
  SQS_REQUEST_FAILED: { stage: "receiving", exitCode: 1 },
  SQS_REQUEST_INVALID: { stage: "receiving", exitCode: 1 },
  SQS_KMS_FAILED: { stage: "receiving", exitCode: 1 },
  DB_UNREACHABLE: { stage: "writing", exitCode: 1 },
  DB_ACCESS_DENIED: { stage: "writing", exitCode: 1 },
  DB_WRITE_FAILED: { stage: "writing", exitCode: 1 },
  DB_ROW_REFUSED: { stage: "writing", exitCode: 1 },
  DB_SCHEMA_MISMATCH: { stage: "writing", exitCode: 1 },
  // Logged, never thrown: a setting that works but is unsafe.
  CONFIG_WARNING: { stage: "config", exitCode: 1 },
  DLQ_SEND_FAILED: { stage: "dead-lettering", exitCode: 1 },
  ACK_FAILED: { stage: "acking", exitCode: 1 },
  RELEASE_FAILED: { stage: "acking", exitCode: 1 },
  VISIBILITY_EXTEND_FAILED: { stage: "acking", exitCode: 1 },
  TRANSFORM_FAILED: { stage: "processing", exitCode: 1 },
  SHUTDOWN_DEADLINE: { stage: "shutdown", exitCode: 1 },
  CHECK_FAILED: { stage: "config", exitCode: 1 },
  DEMO_UNAVAILABLE: { stage: "config", exitCode: 2 },
  VAULT_NOT_FOUND: { stage: "vault", exitCode: 1 },
  VAULT_WRONG_KEY: { stage: "vault", exitCode: 1 },
  VAULT_TAMPERED: { stage: "vault", exitCode: 1 },
  VAULT_AUDIT_FAILED: { stage: "vault", exitCode: 1 },
  VAULT_KEY_EXISTS: { stage: "config", exitCode: 1 },
  VAULT_SEALER_FALLBACK: { stage: "vault", exitCode: 1 },
} as const satisfies Record<string, { stage: Stage; exitCode: number }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export type SafeContext = Record<string, string | number | boolean | null | undefined | string[]>;

export class EtlError extends Error {
  readonly code: ErrorCode;
  readonly stage: Stage;
  readonly context: SafeContext;
  /** False when trying again cannot help (bad credentials, wrong protocol, a row the database refuses). */
  readonly retryable: boolean;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; context?: SafeContext; stage?: Stage; retryable?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "EtlError";
    this.code = code;
    this.stage = options.stage ?? ERROR_CODES[code].stage;
    this.context = options.context ?? {};
    this.retryable = options.retryable ?? true;
  }

  get exitCode(): number {
    return ERROR_CODES[this.code].exitCode;
  }
}

export const isEtlError = (err: unknown): err is EtlError => err instanceof EtlError;

/** Whether a string (a code carried as text, such as a Refusal's) is in the catalogue. */
export const isErrorCode = (code: string): code is ErrorCode => Object.hasOwn(ERROR_CODES, code);

/** The catalogue code of a failure: an EtlError's own, else `fallback` (a foreign or unexpected error). */
export const codeOf = (err: unknown, fallback: ErrorCode): ErrorCode =>
  isEtlError(err) ? err.code : fallback;

/** An EtlError's safe context; nothing for any other error (its message could quote data). */
export const contextOf = (err: unknown): SafeContext => (isEtlError(err) ? err.context : {});

/**
 * What may be logged about a foreign error (the AWS SDK's, pg's): its name,
 * code and HTTP status. Their messages can quote request data, so the message is
 * kept only for errors known not to echo input (connection failures).
 */
export function describeCause(err: unknown): SafeContext {
  if (!(err instanceof Error)) return { cause: typeof err };
  const e = err as Error & { code?: unknown; $metadata?: { httpStatusCode?: number }; Code?: unknown };
  const out: SafeContext = { causeName: e.name };
  if (typeof e.code === "string") out.causeCode = e.code;
  if (typeof e.$metadata?.httpStatusCode === "number") out.httpStatus = e.$metadata.httpStatusCode;
  if (typeof e.code === "string" && /^(E[A-Z]+|57P\d\d|08\d\d\d)$/.test(e.code)) out.causeMessage = e.message;
  return out;
}
