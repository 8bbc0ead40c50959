// `node bench/drainStartup.ts [BIN …]`: how long `login-etl drain` takes from
// process start to its first ReceiveMessage (what a cron job waits for before
// the first row), as the median of several runs. Each BIN is a login-etl entry
// (default: this checkout's bin/login-etl.js); runs of several BINs are
// interleaved so that a busy machine slows them alike. A small proxy in front of
// the SQS emulator timestamps the first ReceiveMessage of each run.
// Knobs: STARTUP_RUNS (9).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { startEmbeddedPostgres } from "../src/local/embeddedPostgres.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION, startEmbeddedSqs } from "../src/local/embeddedSqs.ts";

const bins = process.argv.slice(2);
if (!bins.length) bins.push(fileURLToPath(new URL("../bin/login-etl.js", import.meta.url)));
const runs = Number(process.env.STARTUP_RUNS ?? 9);

const db = await startEmbeddedPostgres();
const sqs = await startEmbeddedSqs();
const target = new URL(sqs.endpointUrl);
let firstReceiveAt: number | null = null;
const proxy = http.createServer((req, res) => {
  if (firstReceiveAt === null && req.headers["x-amz-target"] === "AmazonSQS.ReceiveMessage")
    firstReceiveAt = performance.now();
  const upstream = http.request(
    { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    },
  );
  upstream.on("error", () => res.destroy());
  req.pipe(upstream);
});
await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
const endpointUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
const keyring = JSON.stringify({
  primary: "k1",
  keys: [{ kid: "k1", key: randomBytes(32).toString("base64") }],
});

async function once(bin: string): Promise<{ firstReceiveMs: number; exitMs: number }> {
  const { queueUrl } = await sqs.createQueueWithDlq(`startup-${randomBytes(4).toString("hex")}`);
  firstReceiveAt = null;
  const started = performance.now();
  const child = spawn(process.execPath, [bin, "drain", "--json", "--no-progress"], {
    stdio: ["ignore", "ignore", "pipe"],
    env: {
      PATH: process.env.PATH,
      SQS_QUEUE_URL: queueUrl.replace(sqs.endpointUrl, endpointUrl),
      SQS_ENDPOINT_URL: endpointUrl,
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      DATABASE_URL: db.databaseUrl,
      PII_KEYRING: keyring,
      LOGIN_ETL_WAIT_TIME_SECONDS: "0",
      LOGIN_ETL_LOG_LEVEL: "error",
    },
  });
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  const exitMs = performance.now() - started;
  if (code !== 0 || firstReceiveAt === null) throw new Error(`drain failed (exit ${code}): ${stderr}`);
  return { firstReceiveMs: (firstReceiveAt as number) - started, exitMs };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};
try {
  const results = new Map(bins.map((b) => [b, [] as Array<{ firstReceiveMs: number; exitMs: number }>]));
  await once(bins[0] as string); // warm the file system cache and the database's first migration
  for (let i = 0; i < runs; i++) for (const bin of bins) results.get(bin)?.push(await once(bin));
  for (const [bin, rs] of results) {
    const first = rs.map((r) => r.firstReceiveMs);
    process.stdout.write(
      `${bin}: first receive ${median(first).toFixed(0)} ms median [${Math.min(...first).toFixed(0)} – ${Math.max(...first).toFixed(0)}], exit ${median(rs.map((r) => r.exitMs)).toFixed(0)} ms median, ${runs} runs\n`,
    );
  }
} finally {
  proxy.close();
  await sqs.stop();
  await db.stop();
}
