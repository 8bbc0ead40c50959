// What the pipeline needs to know about the queue before it starts: its
// visibility timeout (for the heartbeat) and, when SQS_DLQ_URL is not set, the
// dead-letter queue named by its redrive policy.
import { EtlError } from "../errors.ts";
import type { SqsJsonClient } from "./types.ts";

export interface QueueInfo {
  readonly visibilityTimeoutSeconds: number;
  readonly redriveDlqUrl: string | null;
  readonly maxReceiveCount: number | null;
  readonly approximateMessages: number;
  readonly approximateInFlight: number;
}

/** The cheapest call that proves the queue answers with our credentials (for /readyz). */
export async function pingQueue(client: SqsJsonClient, queueUrl: string): Promise<void> {
  await client.getQueueAttributes({ QueueUrl: queueUrl, AttributeNames: ["VisibilityTimeout"] });
}

/**
 * The URL of the queue a redrive ARN names, next to the source queue: a
 * dead-letter queue lives in the source queue's region (and endpoint), so only
 * the account and the name change. No GetQueueUrl round trip (and no right to it) needed.
 */
export function queueUrlFromArn(sourceQueueUrl: string, arn: string): string | null {
  const parts = arn.split(":");
  if (parts.length < 6 || parts[0] !== "arn") return null;
  const [, , , , account, name] = parts;
  if (!account || !name) return null;
  const url = new URL(sourceQueueUrl);
  url.pathname = `/${account}/${name}`;
  return url.toString();
}

export async function describeQueue(client: SqsJsonClient, queueUrl: string): Promise<QueueInfo> {
  const { Attributes: attributes = {} } = await client.getQueueAttributes({
    QueueUrl: queueUrl,
    AttributeNames: [
      "VisibilityTimeout",
      "RedrivePolicy",
      "ApproximateNumberOfMessages",
      "ApproximateNumberOfMessagesNotVisible",
    ],
  });
  let redriveDlqUrl: string | null = null;
  let maxReceiveCount: number | null = null;
  if (attributes.RedrivePolicy) {
    let policy: { deadLetterTargetArn?: string; maxReceiveCount?: number | string } = {};
    try {
      policy = JSON.parse(attributes.RedrivePolicy);
    } catch {
      // An unreadable policy names no DLQ; `check` then reports the queue as having none.
    }
    maxReceiveCount = policy.maxReceiveCount === undefined ? null : Number(policy.maxReceiveCount);
    if (policy.deadLetterTargetArn) redriveDlqUrl = queueUrlFromArn(queueUrl, policy.deadLetterTargetArn);
  }
  const visibility = Number(attributes.VisibilityTimeout ?? 30);
  if (!Number.isFinite(visibility)) {
    throw new EtlError(
      "SQS_REQUEST_FAILED",
      `GetQueueAttributes on ${queueUrl} gave no readable VisibilityTimeout`,
      {
        context: { queue: queueUrl },
      },
    );
  }
  return {
    visibilityTimeoutSeconds: visibility,
    redriveDlqUrl,
    maxReceiveCount,
    approximateMessages: Number(attributes.ApproximateNumberOfMessages ?? 0),
    approximateInFlight: Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
  };
}
