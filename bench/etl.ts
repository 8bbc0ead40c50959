// login-etl's own modules, loaded from the checkout under measurement
// (BENCH_ETL_ROOT, by default this one), so that a patched copy can be
// benchmarked with exactly the same harness.
import path from "node:path";
import { pathToFileURL } from "node:url";
import type * as App from "../src/app.ts";
import type * as Config from "../src/config.ts";
import type * as Logger from "../src/ops/logger.ts";
import type * as Migrations from "../src/postgres/migrations.ts";
import type * as Pool from "../src/postgres/postgresPool.ts";
import type * as Sink from "../src/postgres/postgresSink.ts";
import type * as Keyring from "../src/transform/keyring.ts";
import type * as Mask from "../src/transform/mask.ts";

export interface Etl {
  readonly app: typeof App;
  readonly config: typeof Config;
  readonly logger: typeof Logger;
  readonly migrations: typeof Migrations;
  readonly pool: typeof Pool;
  readonly sink: typeof Sink;
  readonly keyring: typeof Keyring;
  readonly mask: typeof Mask;
}

export async function loadEtl(root: string): Promise<Etl> {
  const load = async <T>(file: string): Promise<T> =>
    (await import(pathToFileURL(path.join(root, "src", file)).href)) as T;
  return {
    app: await load("app.ts"),
    config: await load("config.ts"),
    logger: await load("ops/logger.ts"),
    migrations: await load("postgres/migrations.ts"),
    pool: await load("postgres/postgresPool.ts"),
    sink: await load("postgres/postgresSink.ts"),
    keyring: await load("transform/keyring.ts"),
    mask: await load("transform/mask.ts"),
  };
}
