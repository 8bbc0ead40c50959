// Writing a secret (a keyring, a recovery private key) to a file: created new,
// never over an existing file (which may be the only copy of an older key),
// and readable by its owner alone whatever the umask.
import { closeSync, fchmodSync, openSync, writeSync } from "node:fs";
import { type ErrorCode, EtlError } from "../errors.ts";

export function writeSecretFile(
  path: string,
  text: string,
  options: { option: string; existsCode?: ErrorCode },
): void {
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    throw new EtlError(
      code === "EEXIST" ? (options.existsCode ?? "USAGE_INVALID") : "USAGE_INVALID",
      code === "EEXIST"
        ? `${options.option}: ${path} already exists; expected a new file (an existing key is never overwritten; nothing was written)`
        : `${options.option}: cannot create ${path} (${code}); expected a writable path for a new file`,
    );
  }
  try {
    fchmodSync(fd, 0o600);
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}
