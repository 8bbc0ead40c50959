// /livez (the process answers), /readyz (both ends answer, and we are not
// shutting down), /metrics (Prometheus text).
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

export async function startOpsServer(options: {
  host: string;
  port: number;
  registry: Registry;
  probes: Probe[];
  /** Told each readiness result; /metrics runs the checks too, so a scrape never reports a stale one. */
  onReadiness?: (ready: boolean) => void;
}): Promise<OpsServer> {
  let draining = false;
  const readiness = async (): Promise<{ ready: boolean; body: string }> => {
    if (draining) return { ready: false, body: '{"status":"shutting down"}' };
    const results = await Promise.all(options.probes.map(async (p) => [p.name, await runProbe(p)] as const));
    const ready = results.every(([, problem]) => problem === null);
    const body = JSON.stringify({
      status: ready ? "ok" : "unavailable",
      checks: Object.fromEntries(results.map(([n, p]) => [n, p ?? "ok"])),
    });
    options.onReadiness?.(ready);
    return { ready, body };
  };
  const server = http.createServer(async (req, res) => {
    const send = (status: number, body: string, type = "application/json") => {
      res.writeHead(status, { "content-type": type });
      res.end(body);
    };
    try {
      if (req.url === "/livez") return send(200, '{"status":"ok"}');
      if (req.url === "/readyz") {
        const { ready, body } = await readiness();
        return send(ready ? 200 : 503, body);
      }
      if (req.url === "/metrics") {
        if (options.onReadiness) await readiness();
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
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
