// An HTTP proxy of our own between a client and the real SQS emulator, to
// inject the faults a network or a proxy in front of SQS produces: an HTML
// 503 page, a reset connection, no answer, a damaged body, a refused clock, an
// endpoint of the old Query protocol. Without a fault it forwards byte for
// byte. It is not a stand-in for SQS: every successful answer comes from fauxqs.
import http from "node:http";
import type { AddressInfo } from "node:net";

export type Fault =
  | "html-503"
  | "reset"
  | "hang"
  | "legacy-xml"
  /** Answers ExpiredTokenException, as SQS does once a session token has expired. */
  | "expired-token"
  /** Answers RequestTimeTooSkewed with a Date header `skewMs` ahead of this machine. */
  | { readonly skewMs: number }
  /** Forwards, then changes one character of the first message body in the answer (MD5OfBody kept). */
  | "damage-body";

export interface SeenRequest {
  readonly target: string;
  readonly headers: http.IncomingHttpHeaders;
}

export interface FaultProxy {
  readonly endpointUrl: string;
  /** Requests seen so far, faulted or forwarded. */
  readonly seen: SeenRequest[];
  /** The next `count` requests get `fault`; the rest are forwarded. */
  inject(fault: Fault, count?: number): void;
  /** Resolves once `count` requests in total have arrived. */
  waitForRequests(count: number): Promise<void>;
  close(): Promise<void>;
}

export async function startFaultProxy(targetUrl: string): Promise<FaultProxy> {
  const target = new URL(targetUrl);
  const faults: Fault[] = [];
  const seen: SeenRequest[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const hanging = new Set<http.ServerResponse>();

  const forward = (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse, damage: boolean) => {
    const upstream = http.request(
      {
        hostname: target.hostname,
        port: target.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
      },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on("data", (c: Buffer) => chunks.push(c));
        answer.on("end", () => {
          let out = Buffer.concat(chunks);
          if (damage) {
            const parsed = JSON.parse(out.toString("utf8")) as { Messages?: Array<{ Body: string }> };
            const first = parsed.Messages?.[0];
            if (first) first.Body = `${first.Body.slice(0, -1)}#`;
            out = Buffer.from(JSON.stringify(parsed));
          }
          const headers = { ...answer.headers, "content-length": String(out.length) };
          res.writeHead(answer.statusCode ?? 502, headers);
          res.end(out);
        });
      },
    );
    upstream.on("error", () => res.destroy());
    // A client that gave up (an aborted long poll) must not leave a poll open upstream to take messages.
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    upstream.end(body);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      seen.push({ target: String(req.headers["x-amz-target"] ?? ""), headers: req.headers });
      for (const w of waiters.filter((w) => seen.length >= w.count)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
      const fault = faults.shift();
      const body = Buffer.concat(chunks);
      if (fault === undefined) return forward(req, body, res, false);
      if (fault === "damage-body") return forward(req, body, res, true);
      if (fault === "reset") return req.socket.destroy();
      if (fault === "hang") {
        hanging.add(res);
        return;
      }
      if (fault === "html-503") {
        res.writeHead(503, { "content-type": "text/html" });
        return res.end(
          "<html><head><title>503 Service Temporarily Unavailable</title></head><body>nginx</body></html>",
        );
      }
      if (fault === "legacy-xml") {
        res.writeHead(400, { "content-type": "text/xml" });
        return res.end(
          '<?xml version="1.0"?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error><Type>Sender</Type><Code>InvalidAction</Code></Error></ErrorResponse>',
        );
      }
      if (fault === "expired-token") {
        res.writeHead(400, { "content-type": "application/x-amz-json-1.0" });
        return res.end(
          '{"__type":"com.amazon.coral.service#ExpiredTokenException","message":"The security token included in the request is expired"}',
        );
      }
      res.writeHead(400, {
        "content-type": "application/x-amz-json-1.0",
        date: new Date(Date.now() + fault.skewMs).toUTCString(),
      });
      res.end('{"__type":"com.amazon.coral.service#RequestTimeTooSkewed","message":"Signature expired"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpointUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    inject(fault, count = 1) {
      for (let i = 0; i < count; i++) faults.push(fault);
    },
    waitForRequests(count) {
      if (seen.length >= count) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
