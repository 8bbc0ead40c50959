import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { startProgress } from "../../src/ops/progress.ts";

function capture(isTTY: boolean) {
  const stream = Object.assign(new PassThrough(), { isTTY, columns: 100 });
  let text = "";
  stream.on("data", (d) => {
    text += d;
  });
  return { stream, text: () => text };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe("drain progress", () => {
  it("prints plain lines with done, approximate total and rate when not on a terminal", async () => {
    const out = capture(false);
    let done = 0;
    const stop = startProgress(out.stream, { done: () => done, approximateTotal: 500 }, 20);
    done = 120;
    await until(() => out.text().includes("120"));
    stop();
    expect(out.text()).toMatch(/draining: 120 of ~500 messages, \d+\/s/);
  });

  it("draws a bar with the count and rate on a terminal, and grows the total when more arrive", async () => {
    const out = capture(true);
    let done = 0;
    const stop = startProgress(out.stream, { done: () => done, approximateTotal: 10 }, 20);
    done = 15;
    await until(() => out.text().includes("15/15"));
    stop();
    expect(out.text()).toMatch(/15\/15 messages \| \d+\/s/);
  });
});
