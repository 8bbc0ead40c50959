// Preloaded into a measured process (NODE_OPTIONS=--import): when it exits,
// writes its own CPU time and peak RSS to BENCH_REPORT_FILE. Exact, and it
// catches the last milliseconds that sampling /proc from outside would miss.
import { writeFileSync } from "node:fs";

export interface ChildReport {
  readonly userSeconds: number;
  readonly systemSeconds: number;
  readonly maxRssBytes: number;
  /** Seconds from process start to exit. */
  readonly uptimeSeconds: number;
}

const file = process.env.BENCH_REPORT_FILE;
if (file) {
  process.on("exit", () => {
    const usage = process.resourceUsage();
    const report: ChildReport = {
      userSeconds: usage.userCPUTime / 1e6,
      systemSeconds: usage.systemCPUTime / 1e6,
      maxRssBytes: usage.maxRSS * 1024,
      uptimeSeconds: process.uptime(),
    };
    writeFileSync(file, JSON.stringify(report));
  });
}
