// Runs a build or install step (npm, sh) and fails with its output when it fails.
import { spawn } from "node:child_process";
import { captured } from "../helpers/cli.ts";

export const ROOT = new URL("../../", import.meta.url).pathname;

export function exec(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  const child = spawn(command, args, {
    cwd: options.cwd ?? ROOT,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  return captured(child).then(({ code, stdout, stderr }) => {
    const output = stdout + stderr;
    if (code === 0) return output;
    throw new Error(`${command} ${args.join(" ")} exited ${code}:\n${output.slice(-3000)}`);
  });
}
