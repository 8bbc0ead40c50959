// The dashboard and the alert rules in deploy/, read as data: every query
// each one runs, and whether it belongs to the optional CloudWatch part.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

export const RULES_FILE = fileURLToPath(
  new URL("../../deploy/prometheus/login-etl.rules.yaml", import.meta.url),
);
export const RULES_TEST_FILE = fileURLToPath(
  new URL("../../deploy/prometheus/login-etl.rules.test.yaml", import.meta.url),
);
export const DASHBOARD_FILE = fileURLToPath(new URL("../../deploy/grafana/login-etl.json", import.meta.url));

/** The rule group and dashboard parts that need the CloudWatch exporter say so in their names. */
export const OPTIONAL_CLOUDWATCH = /cloudwatch/i;

export interface Query {
  readonly where: string;
  readonly expr: string;
  /** Part of the optional CloudWatch (queue depth/age) group or panels. */
  readonly optional: boolean;
}

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
}
interface RuleGroup {
  name: string;
  rules: Rule[];
}

export function ruleGroups(): RuleGroup[] {
  return (parse(readFileSync(RULES_FILE, "utf8")) as { groups: RuleGroup[] }).groups;
}

export function ruleQueries(): Query[] {
  return ruleGroups().flatMap((g) =>
    g.rules.map((r) => ({
      where: `rule ${r.alert ?? r.record}`,
      expr: r.expr,
      optional: OPTIONAL_CLOUDWATCH.test(g.name),
    })),
  );
}

export const alertNames = () =>
  ruleGroups().flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])));
export const recordedNames = () =>
  ruleGroups().flatMap((g) => g.rules.flatMap((r) => (r.record ? [r.record] : [])));

interface Panel {
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Array<{ expr: string; datasource?: { uid: string } }>;
  panels?: Panel[];
}
interface Variable {
  name: string;
  label?: string;
  type: string;
  query: string | { query: string };
}
export interface Dashboard {
  panels: Panel[];
  templating: { list: Variable[] };
}

export function dashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_FILE, "utf8")) as Dashboard;
}

export function dashboardPanels(d = dashboard()): Panel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== "row");
}

export function dashboardQueries(d = dashboard()): Query[] {
  const panelQueries = dashboardPanels(d).flatMap((p) =>
    (p.targets ?? []).map((t) => ({
      where: `panel "${p.title}"`,
      expr: t.expr,
      optional: OPTIONAL_CLOUDWATCH.test(p.title),
    })),
  );
  const variableQueries = d.templating.list
    .filter((v) => v.type === "query")
    .map((v) => ({
      where: `variable $${v.name}`,
      expr: typeof v.query === "string" ? v.query : v.query.query,
      optional: OPTIONAL_CLOUDWATCH.test(v.label ?? ""),
    }));
  return [...panelQueries, ...variableQueries];
}
