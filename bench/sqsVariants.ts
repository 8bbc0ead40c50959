// AWS SDK client configurations to compare in the plain drain loop. "product" is
// the SDK client as login-etl built it until everything moved to the lean client
// (src/sqs/jsonClient.ts; issue 8): the keep-alive agent, maxAttempts 1, the
// sha256 key cache, MD5 checks only over plain http. "copy" is the same agent
// with the SDK's default options, and each other variant changes one thing from
// "copy", to price the SDK options the issue asks about.

import { Agent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { SQSClient, type SQSClientConfig } from "@aws-sdk/client-sqs";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { Sha256KeyCache } from "./sha256KeyCache.ts";

export interface ClientSettings {
  readonly region: string;
  readonly endpointUrl: string;
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  readonly maxSockets: number;
}

interface Variant {
  readonly description: string;
  readonly keepAlive?: boolean;
  /** Overrides the product's maxSockets. */
  readonly maxSockets?: number;
  readonly client?: Partial<SQSClientConfig>;
}

// The flexible-checksum settings of the S3-style clients. SQSClientConfig does not declare them (SQS
// operations carry no httpChecksum trait), so they are passed untyped, to show what they change.
const WHEN_REQUIRED = {
  requestChecksumCalculation: "WHEN_REQUIRED",
  responseChecksumValidation: "WHEN_REQUIRED",
} as Partial<SQSClientConfig>;

export const SQS_VARIANTS = {
  product: {
    description:
      "the SDK client login-etl shipped before the lean client (keep-alive agent, maxAttempts 1, sha256 key cache, md5 only over http)",
  },
  copy: {
    description:
      "the SDK defaults with the product's agent: the baseline each option below is priced against",
  },
  "md5-off": { description: "md5: false (no MD5 check of each received body)", client: { md5: false } },
  "checksums-when-required": {
    description: "request/response checksums WHEN_REQUIRED",
    client: WHEN_REQUIRED,
  },
  "md5-off+checksums": {
    description: "md5: false and checksums WHEN_REQUIRED",
    client: { ...WHEN_REQUIRED, md5: false },
  },
  "sha256-keycache": {
    description: "sha256: HMAC keys as KeyObjects, made once (bench/sha256KeyCache.ts)",
    client: { sha256: Sha256KeyCache },
  },
  "md5-off+sha256-keycache": {
    description: "both of the above",
    client: { md5: false, sha256: Sha256KeyCache },
  },
  "no-keep-alive": { description: "a new TCP connection per request", keepAlive: false },
  "sockets-2": { description: "keep-alive, maxSockets 2", maxSockets: 2 },
  "sockets-64": { description: "keep-alive, maxSockets 64", maxSockets: 64 },
} as const satisfies Record<string, Variant>;

export type VariantName = keyof typeof SQS_VARIANTS;

export function isVariant(name: string): name is VariantName {
  return Object.hasOwn(SQS_VARIANTS, name);
}

/** What "product" adds to "copy": TLS authenticates every byte, so MD5 checks only over plain http. */
function productOptions(settings: ClientSettings): Partial<SQSClientConfig> {
  const quiet = () => {};
  return {
    sha256: Sha256KeyCache,
    ...(settings.endpointUrl.startsWith("http://") ? {} : { md5: false }),
    // The bench prints its own table: the SDK's warnings go nowhere.
    logger: { trace: quiet, debug: quiet, info: quiet, warn: quiet, error: quiet },
  };
}

export function createVariantClient(name: VariantName, settings: ClientSettings): SQSClient {
  const variant: Variant = SQS_VARIANTS[name];
  const agentOptions = {
    keepAlive: variant.keepAlive ?? true,
    maxSockets: variant.maxSockets ?? settings.maxSockets,
  };
  return new SQSClient({
    region: settings.region,
    endpoint: settings.endpointUrl,
    credentials: settings.credentials,
    requestHandler: new NodeHttpHandler({
      httpAgent: new Agent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
      connectionTimeout: 5_000,
      requestTimeout: 30_000,
    }),
    maxAttempts: 1,
    ...(name === "product" ? productOptions(settings) : variant.client),
  });
}
