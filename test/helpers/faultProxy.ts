// A fault-injecting HTTP proxy of our own between a client and the real SQS
// emulator: set it as SQS_ENDPOINT_URL (or a client's endpoint) and every
// request passes through it. A rule picks requests by operation (X-Amz-Target)
// and queue and answers them with a fault: a reset connection, a load
// balancer's HTML page, an AWS JSON error, an old Query-protocol XML error, a
// skewed clock, silence, or a damaged body. Everything else is forwarded byte
// for byte: it is not a stand-in for SQS, every successful answer is fauxqs's.
import http from "node:http";
import type { AddressInfo } from "node:net";

export type Fault =
  | { readonly kind: "reset" }
  | { readonly kind: "html"; readonly status: number }
  | { readonly kind: "json-error"; readonly status: number; readonly type: string }
  /** What LocalStack < 3 answers: an XML ErrorResponse of the Query protocol. */
  | { readonly kind: "legacy-xml" }
  /** RequestTimeTooSkewed with a Date header `skewMs` away from this machine's clock. */
  | { readonly kind: "skew"; readonly skewMs: number }
  /** Forwarded, then one character of the first message body changed (MD5OfBody kept). */
  | { readonly kind: "damage-body" }
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

export interface SeenRequest {
  readonly operation: string;
  readonly headers: http.IncomingHttpHeaders;
}

export interface FaultProxy {
  readonly endpointUrl: string;
  /** Requests seen, by operation ("ReceiveMessage"), faulted or not. */
  readonly seen: Map<string, number>;
  /** Every request seen, in order. */
  readonly requests: SeenRequest[];
  /** Requests answered with a fault, by operation. */
  readonly faulted: Map<string, number>;
  rules: Rule[];
  /** The next `count` requests, whatever their operation, get `fault`. */
  inject(fault: Fault, count?: number): void;
  /** Resolves once `count` requests in total have arrived. */
  waitForRequests(count: number): Promise<void>;
  close(): Promise<void>;
}

const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);

export async function startFaultProxy(upstreamUrl: string, rules: Rule[] = []): Promise<FaultProxy> {
  const upstream = new URL(upstreamUrl);
  const agent = new http.Agent({ keepAlive: true });
  const hanging = new Set<http.ServerResponse>();
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const proxy: FaultProxy = {
    endpointUrl: "",
    seen: new Map(),
    requests: [],
    faulted: new Map(),
    rules,
    inject(fault, count = 1) {
      proxy.rules.push({ fault, times: count });
    },
    waitForRequests(count) {
      if (proxy.requests.length >= count) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
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

  function forward(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse, damage: boolean) {
    const request = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
        agent,
      },
      (answer) => {
        if (!damage) {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        answer.on("data", (c: Buffer) => chunks.push(c));
        answer.on("end", () => {
          const parsed = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
            Messages?: Array<{ Body: string }>;
          };
          const first = parsed.Messages?.[0];
          if (first) first.Body = `${first.Body.slice(0, -1)}#`;
          const out = Buffer.from(JSON.stringify(parsed));
          res.writeHead(answer.statusCode ?? 502, {
            ...answer.headers,
            "content-length": String(out.length),
          });
          res.end(out);
        });
      },
    );
    request.on("error", () => res.destroy());
    // A client that gave up (an aborted long poll) must not leave a poll open upstream to take messages.
    res.on("close", () => {
      if (!res.writableFinished) request.destroy();
    });
    request.end(body);
  }

  function answerWith(fault: Fault, req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) {
    const json = (status: number, type: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, {
        "content-type": "application/x-amz-json-1.0",
        "x-amzn-query-error": `${type};Sender`,
        ...headers,
      });
      res.end(JSON.stringify({ __type: `com.amazonaws.sqs#${type}`, message: "refused by the test proxy" }));
    };
    switch (fault.kind) {
      case "reset":
        res.socket?.resetAndDestroy();
        return;
      case "html":
        res.writeHead(fault.status, { "content-type": "text/html" });
        res.end(`<html><body><h1>${fault.status} Service Unavailable</h1>nginx</body></html>`);
        return;
      case "json-error":
        return json(fault.status, fault.type);
      case "legacy-xml":
        res.writeHead(400, { "content-type": "text/xml" });
        res.end(
          '<?xml version="1.0"?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error><Type>Sender</Type><Code>InvalidAction</Code></Error></ErrorResponse>',
        );
        return;
      case "skew":
        return json(400, "RequestTimeTooSkewed", { date: new Date(Date.now() + fault.skewMs).toUTCString() });
      case "damage-body":
        return forward(req, body, res, true);
      case "hang":
        hanging.add(res);
        res.on("close", () => hanging.delete(res));
        return;
    }
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
      bump(proxy.seen, operation);
      proxy.requests.push({ operation, headers: req.headers });
      for (const w of waiters.filter((w) => proxy.requests.length >= w.count)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
      const rule = matching(operation, queueUrl);
      if (!rule) return forward(req, body, res, false);
      if (rule.times !== undefined) rule.times--;
      bump(proxy.faulted, operation);
      answerWith(rule.fault, req, body, res);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  (proxy as { endpointUrl: string }).endpointUrl =
    `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
