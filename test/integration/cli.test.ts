// The `login-etl` binary end to end, as a user drives it.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import net from "node:net";
import { CreateQueueCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { freePort } from "../../src/local/embeddedPostgres.ts";
import { eventually } from "../helpers/app.ts";
import { lastJsonLine, runCli, STACK_TRACE, startCli, startRun } from "../helpers/cli.ts";
import { loginEvent, type TestStack, testStack } from "../helpers/stack.ts";

let stack: TestStack;

beforeAll(async () => {
  stack = await testStack("cli");
});
afterAll(async () => {
  await stack.close();
});
beforeEach(async () => {
  await stack.freshQueues();
  await stack.query("DROP TABLE IF EXISTS user_logins, login_etl_schema_migrations");
});

describe("login-etl drain", () => {
  it("drains the queue and prints the JSON summary as the last stdout line", async () => {
    await stack.send([
      loginEvent(),
      loginEvent({ locale: null }),
      loginEvent({ ip: " ::ffff:10.1.2.3 " }),
      "oops",
    ]);
    const res = await runCli(["drain", "--json"], stack.env());
    expect(res.code).toBe(0);
    expect(lastJsonLine(res.stdout)).toMatchObject({ received: 4, inserted: 3, duplicates: 0, rejected: 1 });
    expect(typeof lastJsonLine(res.stdout).seconds).toBe("number");
    expect((await stack.query("SELECT count(*)::int AS n FROM user_logins"))[0]).toEqual({ n: 3 });
  });

  it("prints a readable summary without --json and reports 0 on an empty queue", async () => {
    const res = await runCli(["drain"], stack.env());
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/received\s+0/);
  });

  it("exits 2 naming the setting when DATABASE_URL is missing, without a stack trace", async () => {
    const res = await runCli(["drain"], stack.env({ DATABASE_URL: "" }));
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("DATABASE_URL");
    expect(res.stderr).not.toMatch(STACK_TRACE);
  });

  it("exits 2 naming PII_KEYRING for a keyring without keys, and never prints key material", async () => {
    const key = Buffer.alloc(31, 7).toString("base64");
    const res = await runCli(
      ["drain"],
      stack.env({ PII_KEYRING: JSON.stringify({ primary: "k1", keys: [{ kid: "k1", key }] }) }),
    );
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("PII_KEYRING");
    expect(res.stderr).not.toContain(key);
  });

  it("lets a flag override the environment", async () => {
    const res = await runCli(["drain", "--pollers", "0"], stack.env());
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("--pollers");
  });

  it("exits 1 before consuming anything when the message_id index is not unique", async () => {
    await stack.query(
      "CREATE TABLE user_logins(user_id varchar(128), device_type varchar(32), masked_ip varchar(256), masked_device_id varchar(256), locale varchar(32), app_version integer, create_date date, message_id text)",
    );
    await stack.query("CREATE INDEX user_logins_message_id_key ON user_logins (message_id)");
    await stack.send([loginEvent()]);
    const res = await runCli(["drain"], stack.env());
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/no valid UNIQUE index on \(message_id\)/);
    expect(await stack.counts(stack.queueUrl)).toEqual({ visible: 1, inFlight: 0 });
  });

  it("exits 1 with a clear message when PostgreSQL cannot be reached", async () => {
    const port = await freePort();
    const res = await runCli(
      ["drain"],
      stack.env({ DATABASE_URL: `postgres://u:secretpw@127.0.0.1:${port}/x` }),
    );
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/PostgreSQL/);
    expect(res.stderr).not.toContain("secretpw");
    expect(res.stderr).not.toMatch(STACK_TRACE);
  });
});

describe("login-etl migrate, check, produce, mask", () => {
  it("migrate applies the migrations once, then reports the schema up to date", async () => {
    const first = await runCli(["migrate"], stack.env());
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/applied 001_user_logins, 002_/);
    const second = await runCli(["migrate"], stack.env());
    expect(second.stdout).toMatch(/up to date/);
  });

  it("check reports every problem at once and exits 1 when the schema is not migrated", async () => {
    const res = await runCli(["check"], stack.env());
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/FAIL .*redrive policy/);
    expect(res.stdout).toMatch(/FAIL migrations not applied/);
    expect(res.stdout).toMatch(/ok {3}queue .* reachable/);
  });

  it("check passes on a migrated database and a queue with a redrive policy", async () => {
    const arn = `arn:aws:sqs:us-east-1:000000000000:${stack.dlqUrl.split("/").pop()}`;
    stack.queueUrl = await stack.createQueue("checked", {
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: 5 }),
    });
    await runCli(["migrate"], stack.env());
    const res = await runCli(["check"], stack.env());
    expect(res.stdout).not.toMatch(/FAIL/);
    expect(res.code).toBe(0);
  });

  it("produce sends synthetic events that drain loads, with malformed ones dead-lettered", async () => {
    const produced = await runCli(
      ["produce", "--count", "200", "--malformed-ratio", "0.05", "--duplicate-ratio", "0.3", "--seed", "7"],
      stack.env(),
    );
    expect(produced.code).toBe(0);
    const res = await runCli(["drain", "--json"], stack.env());
    const summary = lastJsonLine(res.stdout);
    expect(summary.received).toBe(200);
    expect(summary.rejected).toBeGreaterThan(0);
    expect(summary.inserted + summary.rejected).toBe(200);
    const shared = await stack.query(
      "SELECT masked_ip FROM user_logins GROUP BY masked_ip HAVING count(*) > 1",
    );
    expect(shared.length).toBeGreaterThan(0);
  });

  it("produce to a queue that does not exist prints one error line and exits 1 (even at debug level)", async () => {
    const missing = stack.queueUrl.replace(/[^/]+$/, "no-such-queue");
    const res = await runCli(
      ["produce", "--count", "5"],
      stack.env({ SQS_QUEUE_URL: missing, LOGIN_ETL_LOG_LEVEL: "debug" }),
    );
    expect(res.code).toBe(1);
    expect(res.stdout).toBe("");
    // Nothing but the error: no SDK warning, no log line, no stack trace.
    expect(res.stderr).toBe(
      `login-etl: queue ${missing} does not exist (SendMessageBatch): check SQS_QUEUE_URL / SQS_DLQ_URL and AWS_REGION [SQS_QUEUE_NOT_FOUND]\n`,
    );
  });

  it("produce stops with SQS_REQUEST_INVALID when the queue refuses the entries (a FIFO queue)", async () => {
    // A FIFO queue refuses each entry without a MessageGroupId: the request succeeds, the entries fail.
    const { QueueUrl: queueUrl = "" } = await stack.sqs.send(
      new CreateQueueCommand({ QueueName: `produce-${randomUUID().slice(0, 8)}.fifo` }),
    );
    const res = await runCli(["produce", "--count", "3"], stack.env({ SQS_QUEUE_URL: queueUrl }));
    expect(res.code).toBe(1);
    expect(res.stdout).toBe("");
    expect(res.stderr).toMatch(
      /^login-etl: SQS refused 3 of 3 entries of SendMessageBatch on \S+ \(MissingParameter\): sending the same entries again cannot help \[SQS_REQUEST_INVALID\]\n$/,
    );
    expect(res.stderr).not.toMatch(STACK_TRACE);
    expect(await stack.counts(queueUrl)).toEqual({ visible: 0, inFlight: 0 });
  });

  it("mask prints the pseudonym the pipeline stores for the same value", async () => {
    await stack.send([loginEvent({ ip: "199.172.111.135", device_id: "593-47-5928" })]);
    await runCli(["drain"], stack.env());
    const env = { PATH: process.env.PATH, PII_KEYRING: stack.env().PII_KEYRING };
    const ip = await runCli(["mask", "--field", "ip", "::ffff:199.172.111.135"], env);
    const device = await runCli(["mask", "--field", "device_id", "593-47-5928"], env);
    expect(ip.code).toBe(0);
    const [row] = await stack.query<{ masked_ip: string; masked_device_id: string }>(
      "SELECT masked_ip, masked_device_id FROM user_logins",
    );
    expect(ip.stdout.trim()).toBe(row?.masked_ip);
    expect(device.stdout.trim()).toBe(row?.masked_device_id);
  });
});

describe("login-etl run", () => {
  it("runs with the heap flags and two malloc arenas the binary sets, unless given others", async () => {
    const read = (pid: number, file: string) =>
      readFileSync(`/proc/${pid}/${file}`, "utf8").split("\0").filter(Boolean);
    const env = stack.env();
    delete env.MALLOC_ARENA_MAX;
    const { child, done } = await startRun(env);
    const pid = child.pid as number;
    expect(read(pid, "cmdline")).toEqual(
      expect.arrayContaining(["--max-semi-space-size=16", "--max-old-space-size=512"]),
    );
    expect(read(pid, "environ")).toContain("MALLOC_ARENA_MAX=2");
    child.kill("SIGTERM");
    expect((await done).code).toBe(0);

    const given = await startRun({ ...env, MALLOC_ARENA_MAX: "4", NODE_OPTIONS: "--max-old-space-size=256" });
    const givenPid = given.child.pid as number;
    expect(read(givenPid, "environ")).toContain("MALLOC_ARENA_MAX=4");
    expect(read(givenPid, "cmdline")).toContain("--max-semi-space-size=16");
    expect(read(givenPid, "cmdline")).not.toContain("--max-old-space-size=512");
    given.child.kill("SIGTERM");
    expect((await given.done).code).toBe(0);
  });

  it("serves /livez, /readyz and /metrics, loads messages, and exits 0 on SIGTERM with counters that reconcile", async () => {
    const canaryIp = "203.0.113.77";
    const canaryDevice = "canary-device-98765";
    const { child, done, base } = await startRun(stack.env({ LOGIN_ETL_LOG_LEVEL: "info" }));
    expect((await fetch(`${base}/livez`)).status).toBe(200);
    await stack.send([
      loginEvent({ ip: canaryIp, device_id: canaryDevice }),
      loginEvent(),
      JSON.stringify({
        user_id: "u",
        device_type: "ios",
        ip: `${canaryIp}:80`,
        device_id: canaryDevice,
        app_version: "1",
      }),
      `not json ${canaryIp} ${canaryDevice}`,
    ]);
    await eventually(
      () => stack.query("SELECT count(*)::int AS n FROM user_logins"),
      (rows) => (rows[0] as { n: number }).n === 2,
    );
    const metrics = await eventually(
      () => fetch(`${base}/metrics`).then((r) => r.text()),
      (text) =>
        /login_etl_messages_rejected_total\{[^}]*\} 1/.test(text) &&
        /login_etl_messages_in_flight 0/.test(text),
    );
    const value = (name: string) =>
      [...metrics.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, "gm"))].reduce(
        (n, m) => n + Number(m[1]),
        0,
      );
    expect(value("login_etl_messages_received_total")).toBe(4);
    expect(
      value("login_etl_rows_inserted_total") +
        value("login_etl_messages_duplicate_total") +
        value("login_etl_messages_rejected_total") +
        value("login_etl_messages_released_total") +
        value("login_etl_messages_in_flight"),
    ).toBe(4);
    child.kill("SIGTERM");
    const res = await done;
    expect(res.code).toBe(0);
    const everything = [
      res.stdout,
      res.stderr,
      metrics,
      JSON.stringify(await stack.query("SELECT * FROM user_logins")),
    ].join("\n");
    expect(everything).not.toContain(canaryIp);
    expect(everything).not.toContain(canaryDevice);
    const dead = await stack.receiveAll(stack.dlqUrl);
    expect(dead).toHaveLength(2);
    for (const m of dead) expect(JSON.stringify(m.MessageAttributes)).not.toContain(canaryIp);
  });

  it("exits 2 naming the setting when the HTTP port is taken", async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    const res = await runCli(
      ["run"],
      stack.env({ LOGIN_ETL_HTTP_PORT: String(port), LOGIN_ETL_HTTP_HOST: "127.0.0.1" }),
    );
    server.close();
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/LOGIN_ETL_HTTP_PORT: cannot listen on 127\.0\.0\.1:\d+ \(EADDRINUSE\)/);
    expect(res.stderr).not.toMatch(STACK_TRACE);
  });

  it("waits for PostgreSQL at start-up, serving /livez, and exits 0 on SIGTERM meanwhile", async () => {
    const dbPort = await freePort();
    const httpPort = await freePort();
    const { child, done } = startCli(
      ["run"],
      stack.env({
        DATABASE_URL: `postgres://u:pw@127.0.0.1:${dbPort}/x`,
        LOGIN_ETL_HTTP_PORT: String(httpPort),
        LOGIN_ETL_HTTP_HOST: "127.0.0.1",
        LOGIN_ETL_LOG_LEVEL: "warn",
      }),
    );
    const base = `http://127.0.0.1:${httpPort}`;
    await eventually(
      () =>
        fetch(`${base}/livez`).then(
          (r) => r.status,
          () => 0,
        ),
      (s) => s === 200,
    );
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    child.kill("SIGTERM");
    const res = await done;
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(/dependency not ready/);
  });
});
