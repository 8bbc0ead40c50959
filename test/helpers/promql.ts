// The metric names a PromQL expression (or a Grafana query holding one) reads,
// found with Prometheus' own grammar (@prometheus-io/lezer-promql) rather
// than a regular expression, so a misspelt function or selector cannot hide.
import { parser } from "@prometheus-io/lezer-promql";

/** Grafana's interval variables stand for a duration; other `$vars` only appear inside label strings. */
function withoutGrafanaVariables(query: string): string {
  return query.replace(/\$__(rate_interval|interval|range)\b/g, "5m");
}

/** Metric names read by `query`; throws when it is not valid PromQL. */
export function metricNames(query: string): Set<string> {
  const expr = withoutGrafanaVariables(query);
  // Grafana's label_values(metric, label) is a template query, not PromQL.
  const labelValues = /^label_values\((?<inner>.+),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$/.exec(expr.trim());
  if (labelValues?.groups?.inner) return metricNames(labelValues.groups.inner);
  const names = new Set<string>();
  const problems: string[] = [];
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError) problems.push(`syntax error at ${node.from}`);
      if (node.name === "VectorSelector") {
        const id = node.node.getChild("Identifier");
        if (id) names.add(expr.slice(id.from, id.to));
        else problems.push(`selector without a metric name at ${node.from}`);
      }
    },
  });
  if (problems.length) throw new Error(`not valid PromQL (${problems.join(", ")}): ${query}`);
  return names;
}
