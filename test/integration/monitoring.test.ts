// The Grafana dashboard and the Prometheus alert rules in deploy/ against the
// metrics `login-etl run` really exports, and the rules against their promtool
// unit tests.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { freePort } from "../../src/local/embeddedPostgres.ts";
import { eventually } from "../helpers/app.ts";
import { startCli, startRun } from "../helpers/cli.ts";
import {
  alertNames,
  dashboard,
  dashboardPanels,
  dashboardQueries,
  type Query,
  RULES_FILE,
  RULES_TEST_FILE,
  recordedNames,
  ruleQueries,
} from "../helpers/monitoring.ts";
import { metricNames } from "../helpers/promql.ts";
import { loginEvent, type TestStack, testStack } from "../helpers/stack.ts";

/** Series Prometheus makes itself, not the app. */
const FROM_PROMETHEUS = new Set(["up"]);
/** The CloudWatch exporter's AWS/SQS series: allowed only in the optional parts. */
const FROM_CLOUDWATCH = /^aws_sqs_/;

/** Every series name a /metrics text offers: each declared family, histograms with their suffixes. */
function exportedNames(metricsText: string): Set<string> {
  const names = new Set<string>();
  for (const m of metricsText.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, kind] = m as unknown as [string, string, string];
    names.add(name);
    if (kind === "histogram") for (const s of ["_bucket", "_sum", "_count"]) names.add(name + s);
    if (kind === "summary") for (const s of ["_sum", "_count"]) names.add(name + s);
  }
  return names;
}

/** Grafana's reference to the dashboard's data source variable. */
const DATASOURCE_VARIABLE = "$" + "{datasource}";

const sampleValue = (metricsText: string, name: string) =>
  Number(new RegExp(`^${name} (\\S+)$`, "m").exec(metricsText)?.[1] ?? Number.NaN);

let stack: TestStack;

beforeAll(async () => {
  stack = await testStack("monitoring");
  await stack.freshQueues();
});
afterAll(async () => {
  await stack.close();
});

describe("dashboard and alert rules", () => {
  it("name only metrics that `login-etl run` exports (CloudWatch ones only in the optional parts)", async () => {
    const { child, done, base } = await startRun(stack.env());
    try {
      await stack.send([loginEvent(), loginEvent(), "not json"]);
      const text = await eventually(
        () => fetch(`${base}/metrics`).then((r) => r.text()),
        (t) =>
          /^login_etl_messages_rejected_total\{[^}]*\} 1$/m.test(t) &&
          /^login_etl_rows_inserted_total 2$/m.test(t),
      );
      expect(sampleValue(text, "login_etl_ready")).toBe(1);
      const exported = exportedNames(text);
      const recorded = new Set(recordedNames());
      const queries: Query[] = [...dashboardQueries(), ...ruleQueries()];
      const unknown: string[] = [];
      for (const q of queries) {
        for (const name of metricNames(q.expr)) {
          const known =
            exported.has(name) ||
            recorded.has(name) ||
            FROM_PROMETHEUS.has(name) ||
            (q.optional && FROM_CLOUDWATCH.test(name));
          if (!known) unknown.push(`${q.where}: ${name}`);
        }
      }
      expect(unknown).toEqual([]);
      // The parts that must work without the exporter read only the app's own metrics.
      const required = queries.filter((q) => !q.optional).flatMap((q) => [...metricNames(q.expr)]);
      expect(required.filter((n) => n.startsWith("login_etl_")).length).toBeGreaterThan(10);
    } finally {
      child.kill("SIGTERM");
      expect((await done).code).toBe(0);
    }
  });

  it("exports login_etl_ready 0 while PostgreSQL cannot be reached", async () => {
    const httpPort = await freePort();
    const { child, done } = startCli(
      ["run"],
      stack.env({
        DATABASE_URL: `postgres://u:pw@127.0.0.1:${await freePort()}/x`,
        LOGIN_ETL_HTTP_PORT: String(httpPort),
        LOGIN_ETL_HTTP_HOST: "127.0.0.1",
      }),
    );
    try {
      const text = await eventually(
        () =>
          fetch(`http://127.0.0.1:${httpPort}/metrics`).then(
            (r) => r.text(),
            () => "",
          ),
        (t) => t.includes("login_etl_ready"),
      );
      expect(sampleValue(text, "login_etl_ready")).toBe(0);
    } finally {
      child.kill("SIGTERM");
      await done;
    }
  });

  it("dashboard selects its data source by variable and rates over $__rate_interval", () => {
    const d = dashboard();
    expect(d.templating.list).toContainEqual(
      expect.objectContaining({ name: "datasource", type: "datasource" }),
    );
    const panels = dashboardPanels(d);
    for (const p of panels) {
      expect(p.datasource?.uid, p.title).toBe(DATASOURCE_VARIABLE);
      for (const t of p.targets ?? []) expect(t.datasource?.uid, p.title).toBe(DATASOURCE_VARIABLE);
    }
    for (const q of dashboardQueries(d)) {
      for (const range of q.expr.matchAll(/\[([^\]]+)\]/g))
        expect(range[1], q.where).toBe("$__rate_interval");
    }
    const titles = panels.map((p) => p.title.toLowerCase()).join("\n");
    for (const topic of [
      "throughput",
      "send-to-commit lag",
      "rejections by reason",
      "errors by code",
      "batch write latency",
      "in flight",
      "queue depth (cloudwatch, optional)",
      "oldest message age (cloudwatch, optional)",
    ])
      expect(titles).toContain(topic);
  });
});

describe("alert rules under promtool", () => {
  const promtool = (...args: string[]) => {
    const res = spawnSync("promtool", args, { cwd: dirname(RULES_FILE), encoding: "utf8" });
    if (res.error)
      throw new Error(
        `promtool is needed for this test (${(res.error as NodeJS.ErrnoException).code}); install it with \`apt-get install -y prometheus\``,
      );
    return res;
  };

  it("are valid rules", () => {
    const res = promtool("check", "rules", RULES_FILE);
    expect(res.stdout + res.stderr).toMatch(/SUCCESS/);
    expect(res.status).toBe(0);
  });

  it("pass their promtool unit tests", () => {
    const res = promtool("test", "rules", RULES_TEST_FILE);
    expect(res.status, res.stdout + res.stderr).toBe(0);
  });

  it("each alert has a unit test in which it fires", () => {
    const tests = parse(readFileSync(RULES_TEST_FILE, "utf8")) as {
      tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
    };
    const firing = new Set(
      tests.tests.flatMap((t) =>
        (t.alert_rule_test ?? []).filter((a) => a.exp_alerts?.length).map((a) => a.alertname),
      ),
    );
    expect(alertNames().filter((a) => !firing.has(a))).toEqual([]);
  });
});
