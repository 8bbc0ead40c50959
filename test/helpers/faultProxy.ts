// A fault-injecting HTTP proxy in front of the SQS emulator: set it as
// SQS_ENDPOINT_URL and every request of login-etl passes through it. A rule
// picks requests by operation (X-Amz-Target) and queue, and answers them
// itself: a reset connection, an HTML page from a "load balancer", an AWS JSON
// error, or silence. Everything else is forwarded unchanged.
import http from "node:http";
import type { AddressInfo } from "node:net";

export type Fault =
  | { readonly kind: "reset" }
  | { readonly kind: "html"; readonly status: number }
  | { readonly kind: "json-error"; readonly status: number; readonly type: string }
  /** Never answers (the socket stays open until the client gives up). */
  | { readonly kind: "hang" };

export interface Rule {
  /** The operation, e.g. "ReceiveMessage" (from X-Amz-Target: AmazonSQS.ReceiveMessage). */
  readonly operation?: string;
  /** Matches when the request's QueueUrl equals this. */
  readonly queueUrl?: string;
  readonly fault: Fault;
  /** How many matching requests get the fault; then the rule stops matching (default: all). */
  times?: number;
}

export interface FaultProxy {
  readonly endpointUrl: string;
  /** Requests seen, by operation ("ReceiveMessage"), faulted or not. */
  readonly seen: Map<string, number>;
  /** Requests answered with a fault, by operation. */
  readonly faulted: Map<string, number>;
  rules: Rule[];
  close(): Promise<void>;
}

const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);

export async function startFaultProxy(upstreamUrl: string, rules: Rule[] = []): Promise<FaultProxy> {
  const upstream = new URL(upstreamUrl);
  const agent = new http.Agent({ keepAlive: true });
  const seen = new Map<string, number>();
  const faulted = new Map<string, number>();
  const hanging = new Set<http.ServerResponse>();
  const proxy: FaultProxy = {
    endpointUrl: "",
    seen,
    faulted,
    rules,
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  function matching(operation: string, queueUrl: string | undefined): Rule | undefined {
    return proxy.rules.find(
      (r) =>
        (r.operation === undefined || r.operation === operation) &&
        (r.queueUrl === undefined || r.queueUrl === queueUrl) &&
        (r.times === undefined || r.times > 0),
    );
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const operation = String(req.headers["x-amz-target"] ?? "").replace(/^AmazonSQS\./, "");
      let queueUrl: string | undefined;
      try {
        queueUrl = (JSON.parse(body.toString("utf8")) as { QueueUrl?: string }).QueueUrl;
      } catch {
        queueUrl = undefined;
      }
      bump(seen, operation);
      const rule = matching(operation, queueUrl);
      if (rule) {
        if (rule.times !== undefined) rule.times--;
        bump(faulted, operation);
        return answerWith(rule.fault, res);
      }
      const forward = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: upstream.host },
          agent,
        },
        (upstreamRes) => {
          res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
          upstreamRes.pipe(res);
        },
      );
      forward.on("error", () => res.destroy());
      forward.end(body);
    });
  });

  function answerWith(fault: Fault, res: http.ServerResponse) {
    switch (fault.kind) {
      case "reset":
        res.socket?.resetAndDestroy();
        return;
      case "html":
        res.writeHead(fault.status, { "content-type": "text/html" });
        res.end(`<html><body><h1>${fault.status} Service Unavailable</h1>nginx</body></html>`);
        return;
      case "json-error":
        res.writeHead(fault.status, {
          "content-type": "application/x-amz-json-1.0",
          "x-amzn-query-error": `${fault.type};Sender`,
        });
        res.end(
          JSON.stringify({ __type: `com.amazonaws.sqs#${fault.type}`, message: "refused by the test proxy" }),
        );
        return;
      case "hang":
        hanging.add(res);
        res.on("close", () => hanging.delete(res));
        return;
    }
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  (proxy as { endpointUrl: string }).endpointUrl =
    `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
