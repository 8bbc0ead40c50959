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

async function defaultChain(): Promise<CredentialProvider> {
  const { defaultProvider } = await import("@aws-sdk/credential-provider-node");
  return defaultProvider() as CredentialProvider;
}

export function createCredentialCache(
  source: AwsCredentials | CredentialProvider | undefined,
  now: () => number = Date.now,
): CredentialCache {
  if (source && typeof source === "object") {
    const fixed = source;
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
