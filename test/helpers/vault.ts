// Recovery keys on disk for the vault tests, and a CLI run with stdin.
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Env } from "../../src/config.ts";
import { newRecoveryKeyPair } from "../../src/vault/keys.ts";
import { type CliResult, startCli } from "./cli.ts";

export interface RecoveryFiles {
  readonly publicJson: string;
  readonly privateFile: string;
}

export function recoveryKeyFiles(kid = "rk1"): RecoveryFiles {
  const dir = mkdtempSync(path.join(os.tmpdir(), "login-etl-vault-"));
  const { privateJson, publicJson } = newRecoveryKeyPair(kid);
  const privateFile = path.join(dir, "recovery.json");
  writeFileSync(privateFile, privateJson, { mode: 0o600 });
  return { publicJson, privateFile };
}

/** Runs the binary with `input` on stdin. */
export function runCliWithInput(args: string[], env: Env, input: string): Promise<CliResult> {
  return startCli(args, env, undefined, input).done;
}

export const keyringOf = (primary: string, ...kids: string[]) =>
  JSON.stringify({
    primary,
    keys: kids.map((kid, i) => ({
      kid,
      key: Buffer.from(Array.from({ length: 32 }, (_, j) => (i * 31 + j * 7 + 1) & 0xff)).toString("base64"),
    })),
  });
