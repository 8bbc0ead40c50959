// What every command gets from main.ts: the environment, a stop signal (SIGTERM
// or SIGINT), and the two output streams. Commands return an exit code and
// never call process.exit themselves.
import type { Env } from "../config.ts";

export interface CommandContext {
  readonly env: Env;
  readonly stop: AbortSignal;
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export const print = (stream: NodeJS.WritableStream, text = "") => {
  stream.write(`${text}\n`);
};
