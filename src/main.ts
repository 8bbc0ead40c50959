// Process entry: argv → command → exit code. The only file that traps signals
// or exits. User mistakes get one clear message and exit 2, runtime failures a
// message with the error code and exit 1; never a stack trace for either.
import { runCli } from "./cli.ts";
import { isEtlError } from "./errors.ts";

const controller = new AbortController();
let firstSignalAt = 0;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    // A second signal means "now": skip the graceful path. One within a second of
    // the first is the same request delivered twice (a terminal signals the
    // whole process group), not an impatient user.
    if (firstSignalAt && Date.now() - firstSignalAt > 1_000) process.exit(130);
    firstSignalAt ||= Date.now();
    controller.abort();
  });
}

// Under npm (npx, npm scripts) a shell may stand between npm and this process and
// swallow the SIGTERM that npm forwards (dash does; the project's .npmrc makes npm
// use bash, which execs us instead). Should that shell die anyway, we are orphaned:
// treat losing the parent like the signal it stood for, rather than run on unseen.
if (process.env.npm_lifecycle_event || process.env.npm_command) {
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(watch);
    firstSignalAt ||= Date.now();
    controller.abort();
  }, 500);
  watch.unref();
}

let code: number;
try {
  code = await runCli(process.argv.slice(2), {
    env: process.env,
    stop: controller.signal,
    stdout: process.stdout,
    stderr: process.stderr,
  });
} catch (err) {
  if (isEtlError(err)) {
    if (!err.context.printed)
      process.stderr.write(`login-etl: ${err.message}${err.exitCode === 2 ? "" : ` [${err.code}]`}\n`);
    code = err.exitCode;
  } else {
    // A bug. Its message may quote data, so only the name, and the stack only when asked for.
    process.stderr.write(
      `login-etl: unexpected ${(err as Error)?.name ?? "error"} [INTERNAL]; set LOGIN_ETL_DEBUG=1 for the stack\n`,
    );
    if (process.env.LOGIN_ETL_DEBUG === "1") process.stderr.write(`${(err as Error)?.stack}\n`);
    code = 1;
  }
}
// Sockets kept alive by SDK agents or a pool must not hold the process open.
process.exit(code);
