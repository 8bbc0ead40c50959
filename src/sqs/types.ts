// Inputs and outputs of the lean SQS client, shaped like the AWS SDK's
// (@aws-sdk/client-sqs) so that code moves from one to the other by renaming
// the call. Only the fields login-etl uses are declared; they travel as the
// AWS JSON 1.0 bodies of the same names.
import type { Stage } from "../errors.ts";

export interface MessageAttributeValue {
  readonly DataType: string;
  readonly StringValue?: string;
  /** Base64, as AWS JSON carries blobs. */
  readonly BinaryValue?: string;
}

export interface ReceiveMessageInput {
  readonly QueueUrl: string;
  readonly MaxNumberOfMessages?: number;
  readonly WaitTimeSeconds?: number;
  readonly VisibilityTimeout?: number;
  readonly MessageSystemAttributeNames?: readonly string[];
  /** The older name of MessageSystemAttributeNames, for emulators that know only it. */
  readonly AttributeNames?: readonly string[];
  readonly MessageAttributeNames?: readonly string[];
}

export interface Message {
  readonly MessageId?: string;
  readonly ReceiptHandle?: string;
  readonly MD5OfBody?: string;
  readonly Body?: string;
  /** System attributes as strings: SentTimestamp (epoch ms), ApproximateReceiveCount, … */
  readonly Attributes?: Readonly<Record<string, string>>;
  readonly MessageAttributes?: Readonly<Record<string, MessageAttributeValue>>;
}

export interface ReceiveMessageOutput {
  readonly Messages?: readonly Message[];
}

export interface DeleteMessageBatchInput {
  readonly QueueUrl: string;
  readonly Entries: ReadonlyArray<{ readonly Id: string; readonly ReceiptHandle: string }>;
}

export interface ChangeMessageVisibilityBatchInput {
  readonly QueueUrl: string;
  readonly Entries: ReadonlyArray<{
    readonly Id: string;
    readonly ReceiptHandle: string;
    readonly VisibilityTimeout: number;
  }>;
}

export interface SendMessageBatchInput {
  readonly QueueUrl: string;
  readonly Entries: ReadonlyArray<{
    readonly Id: string;
    readonly MessageBody: string;
    readonly DelaySeconds?: number;
    readonly MessageAttributes?: Readonly<Record<string, MessageAttributeValue>>;
  }>;
}

/**
 * One entry SQS refused. SQS's own text for it is dropped: it can quote the
 * request (a receipt handle, an attribute value).
 */
export interface BatchResultErrorEntry {
  readonly Id: string;
  /** SQS's code, e.g. "ReceiptHandleIsInvalid". */
  readonly Code: string;
  /** True when the entry itself is at fault, so sending it again cannot help. */
  readonly SenderFault: boolean;
}

export interface BatchOutput<Ok extends { readonly Id: string }> {
  readonly Successful: readonly Ok[];
  readonly Failed: readonly BatchResultErrorEntry[];
}

export interface SendMessageBatchResultEntry {
  readonly Id: string;
  readonly MessageId: string;
  readonly MD5OfMessageBody?: string;
}

export interface GetQueueAttributesInput {
  readonly QueueUrl: string;
  readonly AttributeNames: readonly string[];
}

export interface GetQueueAttributesOutput {
  readonly Attributes?: Readonly<Record<string, string>>;
}

export interface CallOptions {
  /** Aborts the request (shutdown); the call then fails with SQS_REQUEST_FAILED, causeName AbortError. */
  readonly abortSignal?: AbortSignal;
  /** The stage its errors report (defaults: receive and attributes "receiving", delete and visibility "acking", send "dead-lettering"). */
  readonly stage?: Stage;
  /** The operation as errors name it, e.g. "ChangeMessageVisibilityBatch(release)". */
  readonly operationLabel?: string;
}

export interface SqsJsonClient {
  receiveMessage(input: ReceiveMessageInput, options?: CallOptions): Promise<ReceiveMessageOutput>;
  deleteMessageBatch(
    input: DeleteMessageBatchInput,
    options?: CallOptions,
  ): Promise<BatchOutput<{ readonly Id: string }>>;
  changeMessageVisibilityBatch(
    input: ChangeMessageVisibilityBatchInput,
    options?: CallOptions,
  ): Promise<BatchOutput<{ readonly Id: string }>>;
  sendMessageBatch(
    input: SendMessageBatchInput,
    options?: CallOptions,
  ): Promise<BatchOutput<SendMessageBatchResultEntry>>;
  getQueueAttributes(
    input: GetQueueAttributesInput,
    options?: CallOptions,
  ): Promise<GetQueueAttributesOutput>;
  /** Closes the kept-alive sockets. */
  destroy(): void;
}
