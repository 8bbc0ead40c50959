// The credential cache: static keys as given, temporary ones refreshed before
// they expire, one refresh at a time. The provider here is a function of the
// SDK's provider shape, as the default chain is.
import { describe, expect, it, vi } from "vitest";
import {
  type CredentialProvider,
  createCredentialCache,
  environmentCredentials,
} from "../../../src/sqs/credentials.ts";

function countingProvider(lifetimeMs: number, clock: { now: number }) {
  const calls: Array<boolean | undefined> = [];
  const provider: CredentialProvider = async (options) => {
    calls.push(options?.forceRefresh);
    return {
      accessKeyId: `ASIA${calls.length}`,
      secretAccessKey: "s",
      sessionToken: "t",
      expiration: new Date(clock.now + lifetimeMs),
    };
  };
  return { provider, calls };
}

describe("the credential cache", () => {
  it("returns static keys without asking any provider", async () => {
    const keys = { accessKeyId: "AKID", secretAccessKey: "s" };
    const cache = createCredentialCache(keys);
    expect(await cache.get()).toBe(keys);
    expect(await cache.refresh()).toBe(keys);
  });

  it("asks the provider once while the credentials have long to live", async () => {
    const clock = { now: 0 };
    const { provider, calls } = countingProvider(60 * 60_000, clock);
    const cache = createCredentialCache(provider, () => clock.now);
    const [a, b] = await Promise.all([cache.get(), cache.get()]);
    clock.now += 30 * 60_000;
    expect((await cache.get()).accessKeyId).toBe("ASIA1");
    expect(a).toBe(b);
    expect(calls).toHaveLength(1);
  });

  it("refreshes in the background within five minutes of expiry and uses the new keys once they arrive", async () => {
    const clock = { now: 0 };
    const { provider, calls } = countingProvider(10 * 60_000, clock);
    const cache = createCredentialCache(provider, () => clock.now);
    await cache.get();
    clock.now += 6 * 60_000;
    expect((await cache.get()).accessKeyId).toBe("ASIA1");
    await vi.waitFor(async () => expect((await cache.get()).accessKeyId).toBe("ASIA2"));
    expect(calls).toEqual([undefined, true]);
  });

  it("waits for new keys when the old ones are about to expire", async () => {
    const clock = { now: 0 };
    const { provider } = countingProvider(10 * 60_000, clock);
    const cache = createCredentialCache(provider, () => clock.now);
    await cache.get();
    clock.now += 9.5 * 60_000;
    expect((await cache.get()).accessKeyId).toBe("ASIA2");
  });

  it("passes on a provider's failure", async () => {
    const cache = createCredentialCache(async () => {
      throw Object.assign(new Error("Could not load credentials"), { name: "CredentialsProviderError" });
    });
    await expect(cache.get()).rejects.toMatchObject({ name: "CredentialsProviderError" });
  });
});

describe("credentials from the environment, as the chain's first link would give them", () => {
  const keys = { AWS_ACCESS_KEY_ID: "AKID", AWS_SECRET_ACCESS_KEY: "secret" };

  it("takes static keys, with the session token when there is one", () => {
    expect(environmentCredentials(keys)).toEqual({ accessKeyId: "AKID", secretAccessKey: "secret" });
    expect(environmentCredentials({ ...keys, AWS_SESSION_TOKEN: "tok" })).toEqual({
      accessKeyId: "AKID",
      secretAccessKey: "secret",
      sessionToken: "tok",
    });
  });

  it("leaves the decision to the SDK's chain where the chain would not take the environment as is", () => {
    expect(environmentCredentials({})).toBeNull();
    expect(environmentCredentials({ AWS_ACCESS_KEY_ID: "AKID" })).toBeNull();
    // The chain skips the environment's keys when a profile is named.
    expect(environmentCredentials({ ...keys, AWS_PROFILE: "prod" })).toBeNull();
    // Keys with an expiry are the chain's to refresh.
    expect(environmentCredentials({ ...keys, AWS_CREDENTIAL_EXPIRATION: "2030-01-01T00:00:00Z" })).toBeNull();
  });

  it("are what a cache without a given source uses", async () => {
    vi.stubEnv("AWS_ACCESS_KEY_ID", "AKID-ENV");
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", "secret-env");
    vi.stubEnv("AWS_PROFILE", "");
    vi.stubEnv("AWS_CREDENTIAL_EXPIRATION", "");
    vi.stubEnv("AWS_SESSION_TOKEN", "");
    try {
      const cache = createCredentialCache(undefined);
      expect(await cache.get()).toEqual({ accessKeyId: "AKID-ENV", secretAccessKey: "secret-env" });
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
