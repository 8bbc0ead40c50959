// What the pipeline needs to know about the queue before it starts: its
// visibility timeout (for the heartbeat) and, when SQS_DLQ_URL is not set, the
// dead-letter queue named by its redrive policy.
import { GetQueueAttributesCommand, GetQueueUrlCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { sqsError } from "./sqsClient.ts";

export interface QueueInfo {
  readonly visibilityTimeoutSeconds: number;
  readonly redriveDlqUrl: string | null;
  readonly maxReceiveCount: number | null;
  readonly approximateMessages: number;
  readonly approximateInFlight: number;
}

/** The cheapest call that proves the queue answers with our credentials (for /readyz). */
export async function pingQueue(client: SQSClient, queueUrl: string): Promise<void> {
  try {
    await client.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["VisibilityTimeout"] }),
    );
  } catch (err) {
    throw sqsError(err, "GetQueueAttributes", queueUrl);
  }
}

export async function describeQueue(client: SQSClient, queueUrl: string): Promise<QueueInfo> {
  let attributes: Record<string, string>;
  try {
    const res = await client.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: [
          "VisibilityTimeout",
          "RedrivePolicy",
          "ApproximateNumberOfMessages",
          "ApproximateNumberOfMessagesNotVisible",
        ],
      }),
    );
    attributes = res.Attributes ?? {};
  } catch (err) {
    throw sqsError(err, "GetQueueAttributes", queueUrl);
  }
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
    const arn = policy.deadLetterTargetArn?.split(":");
    if (arn && arn.length >= 6) {
      const [, , , , account, name] = arn;
      try {
        const res = await client.send(
          new GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: account }),
        );
        redriveDlqUrl = res.QueueUrl ?? null;
      } catch (err) {
        throw sqsError(err, "GetQueueUrl(redrive target)", queueUrl);
      }
    }
  }
  return {
    visibilityTimeoutSeconds: Number(attributes.VisibilityTimeout ?? 30),
    redriveDlqUrl,
    maxReceiveCount,
    approximateMessages: Number(attributes.ApproximateNumberOfMessages ?? 0),
    approximateInFlight: Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
  };
}
