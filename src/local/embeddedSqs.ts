// An SQS endpoint in this process (fauxqs, which speaks the AWS JSON protocol
// of the current SDK), with the source queue and its dead-letter queue. Queues
// are made through fauxqs's own API: no SQS client here (login-etl talks to the
// endpoint with its lean client, the tests with the AWS SDK's).
import { startFauxqs } from "fauxqs";

export const LOCAL_REGION = "us-east-1";
export const LOCAL_CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" };

export interface EmbeddedSqs {
  readonly endpointUrl: string;
  readonly port: number;
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
  const create = (name: string, attributes?: Record<string, string>) =>
    server.createQueue(name, { region: LOCAL_REGION, ...(attributes ? { attributes } : {}) });
  return {
    endpointUrl,
    port: server.port,
    createQueue: async (name, attributes) => create(name, attributes).queueUrl,
    async createQueueWithDlq(name, { visibilityTimeoutSeconds = 30, maxReceiveCount = 5 } = {}) {
      const dlq = create(`${name}-dlq`);
      const { queueUrl } = create(name, {
        VisibilityTimeout: String(visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount }),
      });
      return { queueUrl, dlqUrl: dlq.queueUrl };
    },
    stop: () => server.stop(),
  };
}
