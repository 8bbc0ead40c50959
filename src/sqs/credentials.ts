// AWS credentials for the lean client: explicit static keys, or the AWS SDK's
// default provider chain (environment, shared profile, SSO, web identity /
// IRSA, ECS, IMDS), loaded lazily so that a process with static keys never
// loads the chain. Temporary credentials are refreshed in the background
// while they still have REFRESH_BEFORE_MS to live, and waited for once they are
// about to expire; one refresh at a time.
import type { AwsCredentials } from "./sigv4.ts";

/** A provider in the SDK's shape (`defaultProvider()` is one). */
export type CredentialProvider = (options?: { forceRefresh?: boolean }) => Promise<AwsCredentials>;

export interface CredentialCache {
  get(): Promise<AwsCredentials>;
  /** After SQS called the session token expired: fetch new credentials even if they look valid. */
  refresh(): Promise<AwsCredentials>;
}

const REFRESH_BEFORE_MS = 5 * 60_000;
const MUST_REFRESH_BEFORE_MS = 60_000;

/**
 * What the chain's first link, the SDK's fromEnv, would give: static keys from
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN). Taken
 * here without loading the SDK (~13 MB of RSS and ~40 ms of start-up). Null
 * where the chain decides otherwise: AWS_PROFILE set (the chain then skips the
 * environment), credentials with an expiry (the chain refreshes those), or keys
 * only half set.
 */
export function environmentCredentials(env: NodeJS.ProcessEnv): AwsCredentials | null {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey || env.AWS_PROFILE || env.AWS_CREDENTIAL_EXPIRATION) return null;
  const sessionToken = env.AWS_SESSION_TOKEN;
  return sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey };
}

async function defaultChain(): Promise<CredentialProvider> {
  const { defaultProvider } = await import("@aws-sdk/credential-provider-node");
  return defaultProvider() as CredentialProvider;
}

export function createCredentialCache(
  source: AwsCredentials | CredentialProvider | undefined,
  now: () => number = Date.now,
): CredentialCache {
  const fromEnvironment = source === undefined ? environmentCredentials(process.env) : null;
  if ((source && typeof source === "object") || fromEnvironment) {
    const fixed = (fromEnvironment ?? source) as AwsCredentials;
    return { get: async () => fixed, refresh: async () => fixed };
  }
  let provider: CredentialProvider | undefined = source;
  let current: AwsCredentials | undefined;
  let loading: Promise<AwsCredentials> | undefined;

  const load = (forceRefresh: boolean): Promise<AwsCredentials> => {
    loading ??= (async () => {
      try {
        provider ??= await defaultChain();
        current = await provider(forceRefresh ? { forceRefresh: true } : undefined);
        return current;
      } finally {
        loading = undefined;
      }
    })();
    return loading;
  };

  return {
    async get() {
      if (!current) return load(false);
      const left = current.expiration ? current.expiration.getTime() - now() : Number.POSITIVE_INFINITY;
      if (left <= MUST_REFRESH_BEFORE_MS) return load(true);
      // Still good for a while: refresh behind the requests, keep using these meanwhile.
      if (left <= REFRESH_BEFORE_MS) load(true).catch(() => {});
      return current;
    },
    refresh: () => load(true),
  };
}
