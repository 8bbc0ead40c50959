// Reads the Dockerfile's instructions, so that the image-tree test runs what the
// image runs (its entrypoint, command, health check and build script).

export interface Instruction {
  readonly keyword: string;
  readonly args: string;
  /** The stage it belongs to, counting FROM lines from 0. */
  readonly stage: number;
}

/** Instructions in order; comments dropped, continuation lines joined. */
export function parseDockerfile(text: string): Instruction[] {
  const joined = text
    .split("\n")
    .filter((line) => !/^\s*#/.test(line))
    .join("\n")
    .replace(/\\\n\s*/g, "");
  const out: Instruction[] = [];
  let stage = -1;
  for (const line of joined.split("\n")) {
    const match = /^\s*([A-Za-z]+)\s+(.*\S)\s*$/.exec(line);
    if (!match) continue;
    const keyword = (match[1] as string).toUpperCase();
    if (keyword === "FROM") stage++;
    out.push({ keyword, args: match[2] as string, stage });
  }
  return out;
}

/** The exec form `["a", "b"]` of an instruction, after any `--flag=value` options. */
export function execForm(args: string): string[] {
  const json = args.slice(args.indexOf("["));
  const value = JSON.parse(json) as unknown;
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string"))
    throw new Error(`not an exec form: ${args}`);
  return value;
}
