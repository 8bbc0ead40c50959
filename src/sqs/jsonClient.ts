// The lean SQS client for the hot operations: AWS JSON 1.0 over a kept-alive
// node:http(s) Agent, signed by src/sqs/sigv4.ts. It costs about a third of
// the AWS SDK's CPU per message (../shared/INFRA.md "SQS client cost"; `npm run
// bench`), because there is no middleware stack and no model-driven serde: a
// body is JSON.stringify of the input and the answer is JSON.parse.
//
// It retries only what a retry at once can fix (the caller backs off for the
// rest): a refused signing time, with the clock offset taken from the server's
// Date header, and an expired session token, with fresh credentials. Every
// failure is an EtlError from src/sqs/errorMapping.ts.
import type { Config } from "../config.ts";
import type { Stage } from "../errors.ts";
import { type CredentialProvider, createCredentialCache } from "./credentials.ts";
import { checkQueueUrl, resolveEndpoint } from "./endpoint.ts";
import { identifyError, isClockSkewError, isExpiredTokenError, isSignatureRefused } from "./errorIdentity.ts";
import { errorFromAnswer, errorFromFailure, type SqsCall } from "./errorMapping.ts";
import { verifyBodyMd5 } from "./messageMd5.ts";
import { type AwsCredentials, createSigV4Signer } from "./sigv4.ts";
import { createTransport, type HttpAnswer } from "./transport.ts";
import type {
  BatchOutput,
  BatchResultErrorEntry,
  CallOptions,
  ReceiveMessageOutput,
  SendMessageBatchResultEntry,
  SqsJsonClient,
} from "./types.ts";

export interface SqsJsonClientOptions {
  readonly region: string;
  /** A custom endpoint (an emulator, a VPC endpoint); null for https://sqs.<region>.amazonaws.com. */
  readonly endpoint?: string | null | undefined;
  /** Static keys, or a provider; the AWS SDK's default provider chain when absent. */
  readonly credentials?: AwsCredentials | CredentialProvider | undefined;
  /** Sockets kept per endpoint: pollers + concurrent batch calls (default 50). */
  readonly maxSockets?: number | undefined;
  /** How long an answer may take beyond the long poll's WaitTimeSeconds (default 10 000). */
  readonly requestTimeoutMs?: number | undefined;
}

const CONTENT_TYPE = "application/x-amz-json-1.0";
const USER_AGENT = "login-etl lean-sqs";
// A wrong clock explains a refused signature only when it is this far off: SigV4 accepts 5 minutes of skew.
const SKEW_EXPLAINS_REFUSAL_MS = 60_000;

const DEFAULT_STAGE: Record<string, Stage> = {
  ReceiveMessage: "receiving",
  GetQueueAttributes: "receiving",
  DeleteMessageBatch: "acking",
  ChangeMessageVisibilityBatch: "acking",
  SendMessageBatch: "dead-lettering",
};

/** SQS's per-entry failures, without its text (which can quote the request). */
function failedEntries(raw: unknown): BatchResultErrorEntry[] {
  if (!Array.isArray(raw)) return [];
  return raw.map((f: { Id?: unknown; Code?: unknown; SenderFault?: unknown }) => ({
    Id: String(f.Id ?? ""),
    Code: typeof f.Code === "string" ? f.Code : "UnknownError",
    SenderFault: f.SenderFault === true,
  }));
}

function batchOutput<Ok extends { readonly Id: string }>(raw: Record<string, unknown>): BatchOutput<Ok> {
  return {
    Successful: Array.isArray(raw.Successful) ? (raw.Successful as Ok[]) : [],
    Failed: failedEntries(raw.Failed),
  };
}

export function createSqsJsonClient(options: SqsJsonClientOptions): SqsJsonClient {
  const { region } = options;
  const endpoint = resolveEndpoint({ region, endpoint: options.endpoint });
  const signer = createSigV4Signer({ region, service: "sqs" });
  const credentials = createCredentialCache(options.credentials);
  const transport = createTransport(endpoint, { maxSockets: options.maxSockets ?? 50 });
  const marginMs = options.requestTimeoutMs ?? 10_000;
  const checkBodies = endpoint.protocol === "http:";
  const checkedQueues = new Set<string>();
  /** Server time minus ours, learnt from a refused signing time. */
  let clockOffsetMs = 0;

  const send = async (
    credentialsNow: AwsCredentials,
    target: string,
    body: Buffer,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<HttpAnswer> => {
    const headers = signer.sign(
      {
        method: "POST",
        host: endpoint.host,
        path: endpoint.path,
        headers: {
          "content-type": CONTENT_TYPE,
          "x-amz-target": target,
          // Asks SQS for the x-amzn-query-error header, as the SDK does.
          "x-amzn-query-mode": "true",
        },
        body,
      },
      credentialsNow,
      Date.now() + clockOffsetMs,
    );
    headers["content-length"] = String(body.length);
    // Unsigned, as the SDK leaves it: it names the caller in CloudTrail.
    headers["user-agent"] = USER_AGENT;
    return transport.post(headers, body, { timeoutMs, signal });
  };

  /** The server's clock minus ours, from an answer's Date header (1 s resolution). */
  const skewOf = (answer: HttpAnswer): number | undefined => {
    const date = answer.headers.date ? Date.parse(answer.headers.date) : Number.NaN;
    return Number.isFinite(date) ? date - Date.now() : undefined;
  };

  async function call(
    operation: string,
    input: { readonly QueueUrl: string },
    callOptions: CallOptions | undefined,
    waitSeconds = 0,
  ): Promise<Record<string, unknown>> {
    const where: SqsCall = {
      operation: callOptions?.operationLabel ?? operation,
      queue: input.QueueUrl,
      stage: callOptions?.stage ?? DEFAULT_STAGE[operation] ?? "receiving",
    };
    if (!checkedQueues.has(input.QueueUrl)) {
      checkQueueUrl(input.QueueUrl, endpoint, region);
      checkedQueues.add(input.QueueUrl);
    }
    const body = Buffer.from(JSON.stringify(input), "utf8");
    const target = `AmazonSQS.${operation}`;
    const timeoutMs = waitSeconds * 1000 + marginMs;
    let retried = false;
    for (;;) {
      let answer: HttpAnswer;
      try {
        const keys = await credentials.get();
        answer = await send(keys, target, body, timeoutMs, callOptions?.abortSignal);
      } catch (err) {
        throw errorFromFailure(err, where);
      }
      if (answer.status >= 200 && answer.status < 300) {
        if (answer.body === "") return {};
        try {
          const parsed: unknown = JSON.parse(answer.body);
          if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed))
            return parsed as Record<string, unknown>;
        } catch {
          // Not JSON: mapped below like any other unreadable answer.
        }
        throw errorFromAnswer(answer, where);
      }
      const identity = identifyError(answer);
      if (!retried) {
        const skew = skewOf(answer);
        if (
          skew !== undefined &&
          (isClockSkewError(identity) ||
            (isSignatureRefused(identity) && Math.abs(skew - clockOffsetMs) > SKEW_EXPLAINS_REFUSAL_MS))
        ) {
          clockOffsetMs = skew;
          retried = true;
          continue;
        }
        if (isExpiredTokenError(identity)) {
          retried = true;
          try {
            await credentials.refresh();
          } catch (err) {
            throw errorFromFailure(err, where);
          }
          continue;
        }
      }
      throw errorFromAnswer(answer, where);
    }
  }

  return {
    async receiveMessage(input, callOptions) {
      const raw = await call("ReceiveMessage", input, callOptions, input.WaitTimeSeconds ?? 0);
      const messages = Array.isArray(raw.Messages)
        ? (raw.Messages as ReceiveMessageOutput["Messages"])
        : undefined;
      if (checkBodies && messages?.length) {
        try {
          verifyBodyMd5(messages);
        } catch (err) {
          throw errorFromFailure(err, {
            operation: callOptions?.operationLabel ?? "ReceiveMessage",
            queue: input.QueueUrl,
            stage: callOptions?.stage ?? "receiving",
          });
        }
      }
      return messages ? { Messages: messages } : {};
    },
    deleteMessageBatch: async (input, callOptions) =>
      batchOutput(await call("DeleteMessageBatch", input, callOptions)),
    changeMessageVisibilityBatch: async (input, callOptions) =>
      batchOutput(await call("ChangeMessageVisibilityBatch", input, callOptions)),
    sendMessageBatch: async (input, callOptions) =>
      batchOutput<SendMessageBatchResultEntry>(await call("SendMessageBatch", input, callOptions)),
    async getQueueAttributes(input, callOptions) {
      const raw = await call("GetQueueAttributes", input, callOptions);
      return raw.Attributes && typeof raw.Attributes === "object"
        ? { Attributes: raw.Attributes as Record<string, string> }
        : {};
    },
    destroy: () => transport.destroy(),
  };
}

/**
 * The lean client for a loaded configuration (AWS_REGION, SQS_ENDPOINT_URL): the one way
 * commands, the app and the Lambda handler build it. Credentials only for the embedded
 * stack; elsewhere the AWS SDK's default provider chain applies.
 */
export function sqsClientFor(
  config: Pick<Config, "region" | "endpointUrl">,
  options: { readonly maxSockets: number; readonly credentials?: AwsCredentials | undefined },
): SqsJsonClient {
  return createSqsJsonClient({
    region: config.region,
    endpoint: config.endpointUrl,
    credentials: options.credentials,
    maxSockets: options.maxSockets,
  });
}
