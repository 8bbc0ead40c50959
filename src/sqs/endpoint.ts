// Where the lean client sends its requests, and which queue URLs it accepts.
// AWS JSON names the queue in the body, so every request goes to one
// endpoint: the regional one, or the custom endpoint the user set (an
// emulator, a VPC endpoint). Plain HTTP is only for a custom endpoint: a
// queue URL with http:// and no endpoint override is a mistake that would
// otherwise send credentials-signed requests in clear.
import { EtlError } from "../errors.ts";

export interface Endpoint {
  readonly protocol: "http:" | "https:";
  readonly hostname: string;
  readonly port: number;
  /** The Host header: the host, with ":port" only when it is not the scheme's default. */
  readonly host: string;
  /** The request path (the SDK posts to the endpoint's path with a trailing slash). */
  readonly path: string;
  readonly custom: boolean;
}

const REGION = /^[a-z]{2}(-[a-z0-9]+)+-\d+$/;

const configError = (message: string) => new EtlError("CONFIG_INVALID", message, { retryable: false });

/** The regional endpoint: https://sqs.<region>.amazonaws.com, amazonaws.com.cn for China regions. */
export function regionalEndpointUrl(region: string): string {
  if (!REGION.test(region))
    throw configError(`AWS_REGION: expected a region such as eu-west-1, got ${JSON.stringify(region)}`);
  return `https://sqs.${region}.amazonaws.com${region.startsWith("cn-") ? ".cn" : ""}`;
}

export function resolveEndpoint(options: { region: string; endpoint?: string | null | undefined }): Endpoint {
  const custom = Boolean(options.endpoint);
  const raw = options.endpoint || regionalEndpointUrl(options.region);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw configError(`SQS_ENDPOINT_URL: expected an http:// or https:// URL, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw configError(`SQS_ENDPOINT_URL: expected an http:// or https:// URL, got ${JSON.stringify(raw)}`);
  if (url.search || url.hash || url.username || url.password)
    throw configError("SQS_ENDPOINT_URL: expected a URL without credentials, query or fragment");
  const protocol = url.protocol;
  return {
    protocol,
    // new URL keeps IPv6 hosts in brackets; the socket wants them without.
    hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: url.port ? Number(url.port) : protocol === "https:" ? 443 : 80,
    host: url.host,
    path: url.pathname.endsWith("/") ? url.pathname : `${url.pathname}/`,
    custom,
  };
}

// sqs.<region>.amazonaws.com[.cn] and the legacy <region>.queue.amazonaws.com.
const AWS_QUEUE_HOST = /^(?:sqs\.([a-z0-9-]+)|([a-z0-9-]+)\.queue)\.amazonaws\.com(?:\.cn)?$/;

/** Throws CONFIG_INVALID when `queueUrl` cannot be used through `endpoint` in `region`. */
export function checkQueueUrl(queueUrl: string, endpoint: Endpoint, region: string): void {
  let url: URL;
  try {
    url = new URL(queueUrl);
  } catch {
    throw configError(`SQS_QUEUE_URL / SQS_DLQ_URL: expected a queue URL, got ${JSON.stringify(queueUrl)}`);
  }
  if (url.protocol === "http:" && !endpoint.custom)
    throw configError(
      `SQS_QUEUE_URL / SQS_DLQ_URL: ${queueUrl} uses plain http://, which is allowed only for an emulator named by SQS_ENDPOINT_URL; set SQS_ENDPOINT_URL to it, or use the queue's https:// URL`,
    );
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw configError(
      `SQS_QUEUE_URL / SQS_DLQ_URL: expected an https:// queue URL, got ${JSON.stringify(queueUrl)}`,
    );
  const match = endpoint.custom ? null : AWS_QUEUE_HOST.exec(url.hostname);
  const queueRegion = match ? (match[1] ?? match[2]) : undefined;
  if (queueRegion && queueRegion !== region)
    throw configError(
      `SQS_QUEUE_URL / SQS_DLQ_URL: ${queueUrl} is a queue in ${queueRegion}, but AWS_REGION is ${region}: set AWS_REGION=${queueRegion}`,
    );
}
