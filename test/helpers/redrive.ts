// A source queue whose redrive policy names its dead-letter queue, the way
// `login-etl check` wants a production queue to be.
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import type { TestStack } from "./stack.ts";

/** Fresh queues on the stack (sets queueUrl and dlqUrl), joined by a redrive policy. */
export async function freshQueuesWithRedrive(stack: TestStack, maxReceiveCount = 5): Promise<void> {
  stack.dlqUrl = await stack.createQueue("dlq");
  const { Attributes } = await stack.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: stack.dlqUrl, AttributeNames: ["QueueArn"] }),
  );
  stack.queueUrl = await stack.createQueue("src", {
    VisibilityTimeout: "30",
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: Attributes?.QueueArn, maxReceiveCount }),
  });
}
