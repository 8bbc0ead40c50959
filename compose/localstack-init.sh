#!/bin/sh
# LocalStack ready hook (compose.yaml mounts it in /etc/localstack/init/ready.d):
# the source queue and its dead-letter queue, joined by a redrive policy, the
# way login-etl expects a production queue (`login-etl check` verifies it).
# The names must match SQS_QUEUE_URL in compose.yaml (test/integration/compose.test.ts).
set -eu
QUEUE=login-queue
DLQ=login-queue-dlq
MAX_RECEIVE_COUNT=5

dlq_url=$(awslocal sqs create-queue --queue-name "$DLQ" --query QueueUrl --output text)
dlq_arn=$(awslocal sqs get-queue-attributes --queue-url "$dlq_url" --attribute-names QueueArn \
  --query Attributes.QueueArn --output text)
cat > /tmp/login-queue-attributes.json <<JSON
{"VisibilityTimeout": "30", "RedrivePolicy": "{\"deadLetterTargetArn\":\"$dlq_arn\",\"maxReceiveCount\":\"$MAX_RECEIVE_COUNT\"}"}
JSON
awslocal sqs create-queue --queue-name "$QUEUE" --attributes file:///tmp/login-queue-attributes.json
