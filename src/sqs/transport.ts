// One POST over a kept-alive node:http(s) Agent, with a deadline for the
// whole exchange and abort by AbortSignal. https keeps Node's certificate
// checks (no TLS options are touched). Resolves to the status, headers and
// body of any answer; rejects only when there is none (network, timeout,
// abort).
import http, { type IncomingHttpHeaders } from "node:http";
import https from "node:https";
import type { Endpoint } from "./endpoint.ts";

export interface HttpAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface PostOptions {
  /** The whole exchange, from sending to the last byte of the answer. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

export interface Transport {
  post(headers: Record<string, string>, body: Buffer, options: PostOptions): Promise<HttpAnswer>;
  destroy(): void;
}

const named = (name: string, message: string, cause?: unknown) =>
  Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { name });

export function createTransport(endpoint: Endpoint, options: { maxSockets: number }): Transport {
  const secure = endpoint.protocol === "https:";
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets };
  const agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  const request = secure ? https.request : http.request;

  return {
    post(headers, body, { timeoutMs, signal }) {
      return new Promise<HttpAnswer>((resolve, reject) => {
        if (signal?.aborted) {
          reject(named("AbortError", "the request was aborted", signal.reason));
          return;
        }
        let settled = false;
        const finish = (fn: () => void) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          fn();
        };
        const req = request({
          agent,
          hostname: endpoint.hostname,
          port: endpoint.port,
          path: endpoint.path,
          method: "POST",
          headers,
        });
        const fail = (err: Error) => {
          finish(() => reject(err));
          req.destroy();
        };
        const timer = setTimeout(
          () => fail(named("TimeoutError", `no answer within ${timeoutMs} ms`)),
          timeoutMs,
        );
        const onAbort = () => fail(named("AbortError", "the request was aborted", signal?.reason));
        signal?.addEventListener("abort", onAbort, { once: true });
        req.on("error", (err) => finish(() => reject(err)));
        req.on("response", (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("error", (err) => finish(() => reject(err)));
          res.on("aborted", () =>
            finish(() =>
              reject(Object.assign(named("Error", "the answer was cut off"), { code: "ECONNRESET" })),
            ),
          );
          res.on("end", () =>
            finish(() =>
              resolve({
                status: res.statusCode ?? 0,
                headers: res.headers,
                body: Buffer.concat(chunks).toString("utf8"),
              }),
            ),
          );
        });
        req.end(body);
      });
    },
    destroy: () => agent.destroy(),
  };
}
