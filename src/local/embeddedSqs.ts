// An SQS endpoint in this process (fauxqs, which speaks the AWS JSON protocol
// of the current SDK), with the source queue and its dead-letter queue.
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { startFauxqs } from "fauxqs";

export const LOCAL_REGION = "us-east-1";
export const LOCAL_CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" };

export interface EmbeddedSqs {
  readonly endpointUrl: string;
  readonly port: number;
  readonly client: SQSClient;
  createQueue(name: string, attributes?: Record<string, string>): Promise<string>;
  /** Creates `name` and `name-dlq`, with a redrive policy after `maxReceiveCount` receives. */
  createQueueWithDlq(
    name: string,
    options?: { visibilityTimeoutSeconds?: number; maxReceiveCount?: number },
  ): Promise<{ queueUrl: string; dlqUrl: string }>;
  stop(): Promise<void>;
}

export async function startEmbeddedSqs(
  options: { port?: number; dataDir?: string } = {},
): Promise<EmbeddedSqs> {
  const server = await startFauxqs({
    port: options.port ?? 0,
    logger: false,
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
  });
  const endpointUrl = `http://127.0.0.1:${server.port}`;
  const client = new SQSClient({
    region: LOCAL_REGION,
    endpoint: endpointUrl,
    credentials: LOCAL_CREDENTIALS,
  });
  const createQueue = async (name: string, attributes?: Record<string, string>) => {
    const res = await client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    if (!res.QueueUrl) throw new Error(`CreateQueue ${name} returned no URL`);
    return res.QueueUrl;
  };
  return {
    endpointUrl,
    port: server.port,
    client,
    createQueue,
    async createQueueWithDlq(name, { visibilityTimeoutSeconds = 30, maxReceiveCount = 5 } = {}) {
      const dlqUrl = await createQueue(`${name}-dlq`);
      const { Attributes } = await client.send(
        new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ["QueueArn"] }),
      );
      const queueUrl = await createQueue(name, {
        VisibilityTimeout: String(visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: Attributes?.QueueArn, maxReceiveCount }),
      });
      return { queueUrl, dlqUrl };
    },
    async stop() {
      client.destroy();
      await server.stop();
    },
  };
}
