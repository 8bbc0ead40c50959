// The credential cache: static keys as given, temporary ones refreshed before
// they expire, one refresh at a time. The provider here is a function of the
// SDK's provider shape, as the default chain is.
import { describe, expect, it, vi } from "vitest";
import { type CredentialProvider, createCredentialCache } from "../../../src/sqs/credentials.ts";

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
