// Where the lean client sends requests, and which queue URLs it refuses.
import { describe, expect, it } from "vitest";
import { EtlError } from "../../../src/errors.ts";
import { checkQueueUrl, resolveEndpoint } from "../../../src/sqs/endpoint.ts";

const configError = (fn: () => unknown): EtlError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof EtlError) return err;
    throw err;
  }
  throw new Error("expected a config error");
};

describe("resolving the SQS endpoint", () => {
  it("uses the regional https endpoint when none is set", () => {
    expect(resolveEndpoint({ region: "eu-west-1", endpoint: null })).toEqual({
      protocol: "https:",
      hostname: "sqs.eu-west-1.amazonaws.com",
      port: 443,
      host: "sqs.eu-west-1.amazonaws.com",
      path: "/",
      custom: false,
    });
  });

  it("uses amazonaws.com.cn for China regions", () => {
    expect(resolveEndpoint({ region: "cn-northwest-1" }).host).toBe("sqs.cn-northwest-1.amazonaws.com.cn");
  });

  it("keeps a custom endpoint's port and path, with the trailing slash the SDK sends", () => {
    expect(resolveEndpoint({ region: "us-east-1", endpoint: "http://localhost:4566/base" })).toEqual({
      protocol: "http:",
      hostname: "localhost",
      port: 4566,
      host: "localhost:4566",
      path: "/base/",
      custom: true,
    });
  });

  it("leaves the default port out of the Host header", () => {
    const e = resolveEndpoint({
      region: "us-east-1",
      endpoint: "https://vpce-1.sqs.us-east-1.vpce.amazonaws.com:443",
    });
    expect(e.host).toBe("vpce-1.sqs.us-east-1.vpce.amazonaws.com");
    expect(e.port).toBe(443);
  });

  it("connects to an IPv6 endpoint without the brackets but signs the Host with them", () => {
    const e = resolveEndpoint({ region: "us-east-1", endpoint: "http://[::1]:9324" });
    expect(e.hostname).toBe("::1");
    expect(e.host).toBe("[::1]:9324");
  });

  it("refuses an endpoint that is not an http(s) URL, naming the setting", () => {
    const err = configError(() => resolveEndpoint({ region: "us-east-1", endpoint: "ftp://x" }));
    expect(err.code).toBe("CONFIG_INVALID");
    expect(err.message).toMatch(/^SQS_ENDPOINT_URL: expected an http:\/\/ or https:\/\/ URL/);
    expect(configError(() => resolveEndpoint({ region: "us-east-1", endpoint: "not a url" })).code).toBe(
      "CONFIG_INVALID",
    );
  });

  it("refuses a region that is not one, naming the setting", () => {
    const err = configError(() => resolveEndpoint({ region: "Ireland" }));
    expect(err.message).toMatch(/^AWS_REGION: expected a region/);
  });
});

describe("checking a queue URL", () => {
  const regional = resolveEndpoint({ region: "eu-west-1" });
  const emulator = resolveEndpoint({ region: "us-east-1", endpoint: "http://127.0.0.1:4566" });

  it("accepts an https queue URL of the client's region", () => {
    expect(() =>
      checkQueueUrl("https://sqs.eu-west-1.amazonaws.com/123456789012/logins", regional, "eu-west-1"),
    ).not.toThrow();
  });

  it("refuses a plain-http queue URL when no endpoint was set", () => {
    const err = configError(() =>
      checkQueueUrl("http://localhost:4566/000000000000/q", regional, "eu-west-1"),
    );
    expect(err.code).toBe("CONFIG_INVALID");
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/plain http:\/\/.*SQS_ENDPOINT_URL/);
  });

  it("accepts a plain-http queue URL through a custom endpoint", () => {
    expect(() => checkQueueUrl("http://127.0.0.1:4566/000000000000/q", emulator, "us-east-1")).not.toThrow();
  });

  it("refuses a queue in another region than AWS_REGION, naming the right one", () => {
    const err = configError(() =>
      checkQueueUrl("https://sqs.us-west-2.amazonaws.com/123456789012/logins", regional, "eu-west-1"),
    );
    expect(err.message).toMatch(/set AWS_REGION=us-west-2/);
    expect(() => checkQueueUrl("https://us-west-2.queue.amazonaws.com/1/q", regional, "eu-west-1")).toThrow(
      EtlError,
    );
  });

  it("refuses a value that is not a URL", () => {
    expect(configError(() => checkQueueUrl("logins", regional, "eu-west-1")).message).toMatch(
      /^SQS_QUEUE_URL \/ SQS_DLQ_URL: expected a queue URL/,
    );
  });
});
