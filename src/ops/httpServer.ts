// /livez (the process answers and its loop moves), /readyz (both ends answer,
// and we are not shutting down), /metrics (Prometheus text). A probe costs the
// dependencies at most one check per READY_TTL_MS, however many ask: a flood of
// probes must not become load on SQS or PostgreSQL.
import http from "node:http";
import type { Registry } from "prom-client";
import { EtlError } from "../errors.ts";

export interface Probe {
  readonly name: string;
  check(): Promise<void>;
}

export interface OpsServer {
  readonly port: number;
  /** From now on /readyz answers 503 (shutdown began). */
  setDraining(): void;
  close(): Promise<void>;
}

const PROBE_TIMEOUT_MS = 2_000;
/** How long one readiness result is served to every asker. */
const READY_TTL_MS = 1_000;

async function runProbe(probe: Probe): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe.check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("timeout")), PROBE_TIMEOUT_MS);
      }),
    ]);
    return null;
  } catch (err) {
    if ((err as Error).message === "timeout") return "timeout";
    return (err as { code?: string }).code ?? "failed";
  } finally {
    clearTimeout(timer);
  }
}

interface Readiness {
  readonly status: number;
  readonly body: string;
}

async function checkReadiness(probes: readonly Probe[]): Promise<Readiness> {
  const results = await Promise.all(probes.map(async (p) => [p.name, await runProbe(p)] as const));
  const failed = results.filter(([, problem]) => problem !== null);
  return {
    status: failed.length ? 503 : 200,
    body: JSON.stringify({
      status: failed.length ? "unavailable" : "ok",
      checks: Object.fromEntries(results.map(([n, p]) => [n, p ?? "ok"])),
    }),
  };
}

export async function startOpsServer(options: {
  host: string;
  port: number;
  registry: Registry;
  /** The readiness checks; called per check, since they exist only once start-up got far enough. */
  probes: () => readonly Probe[];
  /** Null while the process is healthy, else why not (a stalled loop). */
  liveness?: () => string | null;
  /** Told each readiness result (the login_etl_ready gauge); /metrics asks for one too, so a scrape is never stale. */
  onReadiness?: (ready: boolean) => void;
}): Promise<OpsServer> {
  let draining = false;
  let cached: { atMs: number; result: Readiness } | null = null;
  let checking: Promise<Readiness> | null = null;
  function readiness(): Promise<Readiness> {
    if (cached && Date.now() - cached.atMs < READY_TTL_MS) return Promise.resolve(cached.result);
    // One check in flight, shared by everyone who asks meanwhile.
    checking ??= checkReadiness(options.probes()).then((result) => {
      cached = { atMs: Date.now(), result };
      checking = null;
      options.onReadiness?.(result.status === 200 && !draining);
      return result;
    });
    return checking;
  }
  const server = http.createServer(async (req, res) => {
    const send = (status: number, body: string, type = "application/json") => {
      res.writeHead(status, { "content-type": type });
      res.end(body);
    };
    try {
      // The route is the path alone: `/readyz?full=1` is still /readyz.
      const path = (req.url ?? "/").split("?", 1)[0];
      if (path === "/livez") {
        const problem = options.liveness?.() ?? null;
        return problem
          ? send(503, JSON.stringify({ status: "stalled", reason: problem }))
          : send(200, '{"status":"ok"}');
      }
      if (path === "/readyz") {
        if (draining) return send(503, '{"status":"shutting down"}');
        const { status, body } = await readiness();
        return send(status, body);
      }
      if (path === "/metrics") {
        if (options.onReadiness && !draining) await readiness();
        return send(200, await options.registry.metrics(), options.registry.contentType);
      }
      send(404, '{"status":"not found"}');
    } catch {
      send(500, '{"status":"error"}');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        new EtlError(
          "CONFIG_INVALID",
          `LOGIN_ETL_HTTP_HOST / LOGIN_ETL_HTTP_PORT: cannot listen on ${options.host}:${options.port} (${err.code ?? "error"}); expected a free port on a local interface`,
        ),
      ),
    );
    server.listen(options.port, options.host, resolve);
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : options.port,
    setDraining() {
      draining = true;
      options.onReadiness?.(false);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
