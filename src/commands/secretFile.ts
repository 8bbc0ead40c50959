// Writing a secret to a file: created new (never over an existing file, which
// may be the only copy of an older key) and readable by its owner alone.
import { writeFileSync } from "node:fs";
import { EtlError } from "../errors.ts";

export function writeSecretFile(path: string, text: string, option: string): void {
  try {
    writeFileSync(path, text, { mode: 0o600, flag: "wx" });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    throw new EtlError(
      "USAGE_INVALID",
      code === "EEXIST"
        ? `${option}: ${path} already exists; expected a new file (an existing key is never overwritten)`
        : `${option}: cannot create ${path} (${code}); expected a writable path for a new file`,
    );
  }
}
