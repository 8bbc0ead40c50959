import { getEventListeners } from "node:events";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { backoffDelayMs, DEFAULT_BACKOFF, sleep } from "../../src/pipeline/backoff.ts";

const OPTIONS = { initialDelayMs: 100, maxDelayMs: 10_000 };

describe("backoffDelayMs", () => {
  it("doubles the ceiling with each attempt, from the initial delay", () => {
    const almostOne = () => 0.999_999;
    expect(backoffDelayMs(0, OPTIONS, almostOne)).toBe(99);
    expect(backoffDelayMs(1, OPTIONS, almostOne)).toBe(199);
    expect(backoffDelayMs(3, OPTIONS, almostOne)).toBe(799);
  });

  it("never exceeds the maximum delay, however many attempts", () => {
    for (const attempt of [7, 8, 30, 31, 1000, Number.MAX_SAFE_INTEGER]) {
      expect(backoffDelayMs(attempt, OPTIONS, () => 0.999_999)).toBe(9999);
    }
  });

  it("waits at least half the initial delay, even when the jitter draws zero", () => {
    expect(backoffDelayMs(0, OPTIONS, () => 0)).toBe(50);
    expect(backoffDelayMs(20, OPTIONS, () => 0)).toBe(50);
  });

  it("spreads delays with full jitter between the floor and the ceiling", () => {
    expect(backoffDelayMs(5, OPTIONS, () => 0.5)).toBe(1600);
    for (let i = 0; i < 1000; i++) {
      const delay = backoffDelayMs(4, OPTIONS);
      expect(delay).toBeGreaterThanOrEqual(50);
      expect(delay).toBeLessThan(1600);
      expect(Number.isInteger(delay)).toBe(true);
    }
  });

  it("uses 100 ms initial and 10 s maximum delays by default", () => {
    expect(DEFAULT_BACKOFF).toEqual(OPTIONS);
  });
});

describe("sleep", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("resolves after the given time", async () => {
    let done = false;
    const slept = sleep(1000).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await slept;
    expect(done).toBe(true);
  });

  it("resolves early, without throwing, when the signal aborts", async () => {
    const controller = new AbortController();
    const slept = sleep(60_000, controller.signal);
    controller.abort();
    await expect(slept).resolves.toBeUndefined();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("resolves at once when the signal has already aborted", async () => {
    await expect(sleep(60_000, AbortSignal.abort())).resolves.toBeUndefined();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("removes its abort listener when the time is up", async () => {
    const controller = new AbortController();
    const slept = sleep(10, controller.signal);
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(10);
    await slept;
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });
});
