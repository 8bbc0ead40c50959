// AWS Signature Version 4 for the lean SQS client, on node:crypto. Two choices
// make it cheap: the day's signing key is derived once per date/region/service
// and kept as a KeyObject (on Node 24 an HMAC with a raw key costs several
// times more than with a KeyObject), and the request's canonical path is
// computed once per path. Output is byte-identical to @smithy/signature-v4
// with its defaults (test/unit/sigv4.test.ts), including the signed
// x-amz-content-sha256 header, which the AWS SDK sends to SQS on every request.
import { createHmac, createSecretKey, hash, type KeyObject } from "node:crypto";

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
  /** When temporary credentials stop working; absent for long-term keys. */
  readonly expiration?: Date | undefined;
}

export interface SignableRequest {
  readonly method: string;
  /** The Host header as sent: host, plus ":port" when the port is not the scheme's default. */
  readonly host: string;
  readonly path: string;
  /** Lower-case names. Every header given here is signed (the transport adds content-length unsigned). */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export interface SigV4Signer {
  /** The headers to send: the given ones plus host, x-amz-date, x-amz-content-sha256, x-amz-security-token, authorization. */
  sign(request: SignableRequest, credentials: AwsCredentials, signingDateMs: number): Record<string, string>;
}

const ALGORITHM = "AWS4-HMAC-SHA256";
const MAX_CACHED = 8;

/** 2026-12-01T14:22:30.123Z → 20261201T142230Z (SigV4 drops the milliseconds). */
export function amzDate(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}

// RFC 3986 unreserved characters stay; encodeURIComponent leaves !'()* as they are, SigV4 escapes them.
const escapeUri = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** The canonical URI of a non-S3 service: dot segments and empty segments removed, each segment escaped again. */
export function canonicalPath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") segments.pop();
    else segments.push(segment);
  }
  const normalized = `${path.startsWith("/") ? "/" : ""}${segments.join("/")}${segments.length > 0 && path.endsWith("/") ? "/" : ""}`;
  return escapeUri(normalized).replace(/%2F/g, "/");
}

const MESSY_VALUE = /[\r\n\t]| {2}|^ | $/;
const canonicalValue = (v: string) =>
  MESSY_VALUE.test(v)
    ? v
        .replace(/[\r\n]/g, " ")
        .replace(/[ \t]+/g, " ")
        .replace(/^ | $/g, "")
    : v;

const hmac = (key: KeyObject | string | Buffer, data: string) =>
  createHmac("sha256", key).update(data).digest();

export function createSigV4Signer(options: { region: string; service: string }): SigV4Signer {
  const { region, service } = options;
  const signingKeys = new Map<string, { secret: string; key: KeyObject }>();
  const paths = new Map<string, string>();

  const signingKey = (credentials: AwsCredentials, shortDate: string): KeyObject => {
    const id = `${credentials.accessKeyId}/${shortDate}`;
    const cached = signingKeys.get(id);
    if (cached && cached.secret === credentials.secretAccessKey) return cached.key;
    const kDate = hmac(`AWS4${credentials.secretAccessKey}`, shortDate);
    const kSigning = hmac(hmac(hmac(kDate, region), service), "aws4_request");
    // A new day or rotated credentials: the older keys are not needed again.
    if (signingKeys.size >= MAX_CACHED) signingKeys.clear();
    const key = createSecretKey(kSigning);
    signingKeys.set(id, { secret: credentials.secretAccessKey, key });
    return key;
  };

  const pathOf = (path: string): string => {
    let canonical = paths.get(path);
    if (canonical === undefined) {
      canonical = canonicalPath(path);
      if (paths.size >= MAX_CACHED) paths.clear();
      paths.set(path, canonical);
    }
    return canonical;
  };

  return {
    sign(request, credentials, signingDateMs) {
      const longDate = amzDate(signingDateMs);
      const shortDate = longDate.slice(0, 8);
      const scope = `${shortDate}/${region}/${service}/aws4_request`;
      const payloadHash = hash("sha256", request.body);
      const headers: Record<string, string> = {
        ...request.headers,
        host: request.host,
        "x-amz-date": longDate,
        "x-amz-content-sha256": payloadHash,
      };
      if (credentials.sessionToken) headers["x-amz-security-token"] = credentials.sessionToken;
      const names = Object.keys(headers).sort();
      let canonicalHeaders = "";
      for (const name of names) canonicalHeaders += `${name}:${canonicalValue(headers[name] as string)}\n`;
      const signedHeaders = names.join(";");
      const canonicalRequest = `${request.method}\n${pathOf(request.path)}\n\n${canonicalHeaders}\n${signedHeaders}\n${payloadHash}`;
      const stringToSign = `${ALGORITHM}\n${longDate}\n${scope}\n${hash("sha256", canonicalRequest)}`;
      const signature = createHmac("sha256", signingKey(credentials, shortDate))
        .update(stringToSign)
        .digest("hex");
      headers.authorization = `${ALGORITHM} Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
      return headers;
    },
  };
}
