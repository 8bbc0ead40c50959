// Preloaded with `--import` into a login-etl process: records the URL of every
// module it loads (ESM and CommonJS) and writes them, one per line, to the file
// named by LOGIN_ETL_TEST_MODULES_FILE when the process exits.
import { writeFileSync } from "node:fs";
import { registerHooks } from "node:module";

const file = process.env.LOGIN_ETL_TEST_MODULES_FILE;
const loaded = new Set<string>();
registerHooks({
  resolve(specifier, context, nextResolve) {
    const result = nextResolve(specifier, context);
    loaded.add(result.url);
    return result;
  },
});
process.on("exit", () => {
  if (file) writeFileSync(file, [...loaded].join("\n"));
});
