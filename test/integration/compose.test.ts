// compose.yaml checked against the app, as far as a machine without a container
// engine allows: every variable a login-etl service sets is one its command
// reads and passes the app's own validation; ports, health checks and queue
// names agree with the app and the init hooks; and the fauxqs profile's init
// file, loaded by the real fauxqs, gives queues that `login-etl check` accepts.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startFauxqs } from "fauxqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { COMMAND_SETTINGS, DEFAULTS, type Env, loadConfig, SETTINGS } from "../../src/config.ts";
import { runCli } from "../helpers/cli.ts";
import { TEST_KEYRING, type TestStack, testStack } from "../helpers/stack.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");

interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  profiles?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[]; disable?: boolean };
}
const compose = parse(read("compose.yaml"), { merge: true }) as { services: Record<string, Service> };
const services = Object.entries(compose.services);
const etlServices = services.filter(([, s]) => s.image === "login-etl:local" && s.command);
const commandOf = (s: Service) => s.command?.[0] as keyof typeof COMMAND_SETTINGS;
const KEYRING_VARS = ["PII_KEYRING", "PII_KEYRING_FILE"];
const AWS_CREDENTIAL_VARS = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]; // the SDK's standard chain
const queueName = (url: string) => url.split("/").pop();
const sqsService = (s: Service) => new URL(s.environment?.SQS_ENDPOINT_URL as string).hostname;

describe("compose.yaml", () => {
  it("runs login-etl services with commands the CLI has", () => {
    expect(etlServices.map(([, s]) => commandOf(s)).sort()).toEqual(["produce", "produce", "run", "run"]);
  });

  it.each(etlServices)("%s sets only variables its command reads, and the app accepts them", (_, s) => {
    const command = commandOf(s);
    const env = s.environment ?? {};
    const read: string[] = COMMAND_SETTINGS[command].map((name) => SETTINGS[name].env);
    const readsKeyring = command === "run";
    const allowed = [...read, ...AWS_CREDENTIAL_VARS, ...(readsKeyring ? KEYRING_VARS : [])];
    expect(Object.keys(env).filter((name) => !allowed.includes(name))).toEqual([]);
    const dir = mkdtempSync(path.join(os.tmpdir(), "login-etl-compose-"));
    try {
      const keyringFile = path.join(dir, "keyring.json");
      writeFileSync(keyringFile, TEST_KEYRING);
      const validated: Env = { ...env, ...(env.PII_KEYRING_FILE ? { PII_KEYRING_FILE: keyringFile } : {}) };
      const needs = new Set(
        readsKeyring ? (["queue", "database", "keyring"] as const) : (["queue"] as const),
      );
      expect(() => loadConfig(validated, {}, needs, COMMAND_SETTINGS[command])).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(etlServices.filter(([, s]) => commandOf(s) === "run"))(
    "%s publishes the ops port and its health check asks /livez on it",
    (_, s) => {
      const port = s.environment?.LOGIN_ETL_HTTP_PORT ?? DEFAULTS.httpPort;
      expect(s.ports?.map((p) => p.split(":").pop())).toEqual([port]);
      const check = (s.healthcheck?.test ?? []).join(" ");
      expect(check).toContain(`http://127.0.0.1:${port}/livez`);
      expect(read("Dockerfile")).toMatch(new RegExp(`^EXPOSE ${port}$`, "m"));
    },
  );

  it.each(etlServices)("%s talks to services of this file, on the ports they serve", (_, s) => {
    const sqs = compose.services[sqsService(s)];
    expect(sqs).toBeDefined();
    expect(new URL(s.environment?.SQS_ENDPOINT_URL as string).port).toBe("4566");
    expect(new URL(s.environment?.SQS_QUEUE_URL as string).host).toBe(`${sqsService(s)}:4566`);
    if (s.environment?.DATABASE_URL) {
      const db = new URL(s.environment.DATABASE_URL);
      const pg = compose.services[db.hostname]?.environment ?? {};
      expect([db.port, db.username, db.password, db.pathname.slice(1)]).toEqual([
        "5432",
        pg.POSTGRES_USER,
        pg.POSTGRES_PASSWORD,
        pg.POSTGRES_DB,
      ]);
    }
  });

  it("waits for each dependency to be healthy (or done), and each awaited service has a health check", () => {
    for (const [name, s] of services) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        expect(["service_healthy", "service_completed_successfully"], `${name} → ${dep}`).toContain(
          condition,
        );
        const awaited = compose.services[dep];
        if (condition === "service_healthy")
          expect(awaited?.healthcheck?.test?.length, dep).toBeGreaterThan(0);
      }
    }
  });

  it("gives commands and health checks as lists of strings (an unquoted `: ` in YAML makes a map)", () => {
    for (const [name, s] of services) {
      const entrypoint = (s as { entrypoint?: unknown[] }).entrypoint ?? [];
      for (const part of [...(s.healthcheck?.test ?? []), ...(s.command ?? []), ...entrypoint])
        expect(typeof part, name).toBe("string");
    }
  });

  it("pins PostgreSQL 17 and a LocalStack 4.x tag that runs without an auth token", () => {
    expect(compose.services.postgres?.image).toMatch(/^postgres:17(\.\d+)?$/);
    expect(compose.services.localstack?.image).toMatch(/^localstack\/localstack:4\.\d+\.\d+$/);
    expect(compose.services.localstack?.environment?.LOCALSTACK_AUTH_TOKEN).toBeUndefined();
  });

  it("has the LocalStack init hook create the queue the app names and a DLQ joined by a redrive policy", () => {
    const volume = compose.services.localstack?.volumes?.find((v) =>
      v.includes("/etc/localstack/init/ready.d/"),
    );
    const hook = volume?.split(":")[0] as string;
    expect((statSync(path.join(ROOT, hook)).mode & 0o111) !== 0, "the hook is executable").toBe(true);
    const script = read(hook);
    const queue = /^QUEUE=(\S+)$/m.exec(script)?.[1];
    const dlq = /^DLQ=(\S+)$/m.exec(script)?.[1];
    expect(script).toContain('create-queue --queue-name "$DLQ"');
    expect(script).toContain('create-queue --queue-name "$QUEUE" --attributes');
    expect(script).toMatch(/RedrivePolicy.*deadLetterTargetArn.*\$dlq_arn/);
    for (const [, s] of etlServices.filter(([, s]) => sqsService(s) === "localstack"))
      expect(queueName(s.environment?.SQS_QUEUE_URL as string)).toBe(queue);
    expect(dlq).not.toBe(queue);
    expect(compose.services.localstack?.healthcheck?.test).toContain(queue);
  });
});

describe("compose.yaml's fauxqs profile", () => {
  let stack: TestStack;
  let server: Awaited<ReturnType<typeof startFauxqs>>;
  const fauxqs = compose.services.fauxqs as Service;
  const initFile = fauxqs.volumes?.[0]?.split(":")[0] as string;
  beforeAll(async () => {
    stack = await testStack("compose");
    server = await startFauxqs({ port: 0, logger: false, init: path.join(ROOT, initFile) });
  });
  afterAll(async () => {
    await server?.stop();
    await stack?.close();
  });

  it("mounts the init file fauxqs is told to load", () => {
    const mounted = fauxqs.volumes?.[0]?.split(":")[1];
    expect(fauxqs.environment?.FAUXQS_INIT).toBe(mounted);
  });

  it("creates queues that `login-etl check` accepts with the service's own settings", async () => {
    const service = compose.services["login-etl-fauxqs"] as Service;
    const local = `127.0.0.1:${server.port}`;
    const env = Object.fromEntries(
      Object.entries(service.environment ?? {}).map(([k, v]) => [k, v.replace("fauxqs:4566", local)]),
    );
    await runCli(["migrate"], stack.env());
    const res = await runCli(
      ["check"],
      stack.env({ ...env, PII_KEYRING_FILE: undefined, DATABASE_URL: stack.databaseUrl }),
    );
    expect(res.stdout).not.toContain("FAIL");
    expect(res.stdout).toMatch(/redrive policy to \S+login-queue-dlq after 5 receives/);
    expect(res.code).toBe(0);
  });
});
