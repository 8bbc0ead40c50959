// The drains measure login-etl as it ships: compiled to dist/ and started by
// bin/login-etl.js from a directory shaped like the installed npm package (no
// src/), so the binary takes dist/ and Node's type stripping (~18 MB of RSS,
// and its start-up CPU) is not counted. BENCH_FROM_SOURCE=1 measures the
// checkout's TypeScript instead, as `npm start` runs it.
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const made = new Map<string, string>();

/** The path of the bin to run for `etlRoot`'s code: built and laid out once per benchmark run. */
export function shippedBin(etlRoot: string): string {
  if (process.env.BENCH_FROM_SOURCE === "1") return path.join(etlRoot, "bin", "login-etl.js");
  const known = made.get(etlRoot);
  if (known) return known;
  execFileSync("npm", ["run", "--silent", "build"], { cwd: etlRoot, stdio: ["ignore", "ignore", "inherit"] });
  const dir = mkdtempSync(path.join(os.tmpdir(), "login-etl-shipped-"));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  cpSync(path.join(etlRoot, "bin"), path.join(dir, "bin"), { recursive: true });
  cpSync(path.join(etlRoot, "package.json"), path.join(dir, "package.json"));
  for (const linked of ["dist", "migrations", "node_modules"])
    symlinkSync(path.join(etlRoot, linked), path.join(dir, linked));
  const bin = path.join(dir, "bin", "login-etl.js");
  made.set(etlRoot, bin);
  return bin;
}
