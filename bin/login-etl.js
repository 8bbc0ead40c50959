#!/usr/bin/env node
// Entry of the `login-etl` binary. In a checkout the code is TypeScript run by
// Node's type stripping (Node >= 22.18); the npm package and the container image
// ship it compiled to dist/ (`npm run build`; Node strips no types under
// node_modules), which needs Node >= 22. npm scripts and `npx` put the project's
// own Node 24 (the `node` dev dependency) first on PATH; when an older system
// Node runs this file directly, hand over to that Node instead of failing.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";

const [major, minor] = process.versions.node.split(".").map(Number);
const source = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const fromSource = existsSync(source);
const main = fromSource ? source : fileURLToPath(new URL("../dist/main.js", import.meta.url));
const [needMajor, needMinor] = fromSource ? [22, 18] : [22, 0];

// Heap sizes chosen with `npm run bench`: V8's defaults on a large machine let the
// heap grow to ~340 MB RSS around a ~30 MB live set; these keep it ~150 MB, flat,
// for ~10 % more CPU. Given flags (argv or NODE_OPTIONS) win.
const HEAP_FLAGS = ["--max-semi-space-size=16", "--max-old-space-size=512"];
const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)];
const heapFlags = HEAP_FLAGS.filter((f) => !given.some((g) => g.startsWith(f.split("=")[0])));
// glibc gives each thread that allocates its own malloc arena; Node's worker threads
// (GC, libuv) made RSS creep by ~7 MB over a 1M-message drain. Two arenas keep it flat
// at no measurable CPU cost (`npm run bench`). A value already set wins.
const env = { MALLOC_ARENA_MAX: "2", ...process.env };

if (major > needMajor || (major === needMajor && minor >= needMinor)) {
  if (heapFlags.length && typeof process.execve === "function") {
    // The same process, started again with the flags (nothing has run yet).
    process.execve(
      process.execPath,
      [
        process.execPath,
        ...process.execArgv,
        ...heapFlags,
        fileURLToPath(import.meta.url),
        ...process.argv.slice(2),
      ],
      env,
    );
  }
  await import(main);
} else {
  const bundled = fileURLToPath(new URL("../node_modules/node/bin/node", import.meta.url));
  if (!existsSync(bundled)) {
    process.stderr.write(
      `login-etl: needs Node.js ${needMajor}.${needMinor} or newer (this is ${process.version})${fromSource ? "; run `npm ci` in the checkout to install the bundled Node 24" : ""}\n`,
    );
    process.exit(2);
  }
  const child = spawn(bundled, [...heapFlags, main, ...process.argv.slice(2)], { stdio: "inherit", env });
  // Ctrl-C reaches the whole process group, the child included: forwarding SIGINT
  // too would be a second signal, which the child takes as "stop now".
  process.on("SIGINT", () => {});
  process.on("SIGTERM", () => child.kill("SIGTERM"));
  child.on("error", (err) => {
    process.stderr.write(`login-etl: cannot start the bundled Node (${err.code ?? err.name})\n`);
    process.exit(1);
  });
  child.on("exit", (code, signal) => process.exit(code ?? 128 + (os.constants.signals[signal] ?? 15)));
}
