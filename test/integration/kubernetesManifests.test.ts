// deploy/kubernetes rendered with `kubectl kustomize` and checked against the
// Kubernetes (and KEDA, Prometheus Operator) schemas, and against the app:
// ports, probe paths, environment names, shutdown deadline, alert rules.
import { readFileSync } from "node:fs";
import { Registry } from "prom-client";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { COMMAND_SETTINGS, type Config, loadConfig, SETTINGS } from "../../src/config.ts";
import { startOpsServer } from "../../src/ops/httpServer.ts";
import { type K8sObject, renderKustomize, schemaProblems } from "../helpers/kubernetes.ts";
import { RULES_FILE } from "../helpers/monitoring.ts";

/** Environment variables `login-etl run` reads: its settings and the keyring's two. */
const RUN_ENV = new Set([
  ...COMMAND_SETTINGS.run.map((name) => SETTINGS[name].env),
  "PII_KEYRING_FILE",
  "PII_KEYRING",
]);

let objects: K8sObject[];
const one = (kind: string) => {
  const found = objects.filter((o) => o.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0] as K8sObject;
};
const pod = () => one("Deployment").spec.template;
const container = () => pod().spec.containers[0];

/** The environment the container gets: its ConfigMap (envFrom) and its own env entries. */
function containerEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of container().envFrom ?? []) {
    const cm = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === from.configMapRef?.name);
    expect(cm, `ConfigMap ${from.configMapRef?.name}`).toBeDefined();
    Object.assign(env, cm?.data);
  }
  for (const e of container().env ?? []) env[e.name] = e.value ?? `(from ${Object.keys(e.valueFrom)[0]})`;
  return env;
}

/** The app's own configuration from that environment (secrets replaced by placeholders). */
function appConfig(): Config {
  const env = { ...containerEnv(), DATABASE_URL: "postgres://u:p@db:5432/x" };
  return loadConfig(env, {}, new Set(["queue", "database"]), COMMAND_SETTINGS.run);
}

beforeAll(() => {
  objects = renderKustomize();
});

describe("deploy/kubernetes", () => {
  it("renders with kubectl kustomize and every object matches its API schema", () => {
    expect(objects.map((o) => o.kind).sort()).toEqual([
      "ConfigMap",
      "Deployment",
      "PodDisruptionBudget",
      "PodMonitor",
      "PrometheusRule",
      "ScaledObject",
      "ServiceAccount",
      "TriggerAuthentication",
    ]);
    expect(objects.map(schemaProblems).filter(Boolean)).toEqual([]);
  });

  it("sets only environment variables that `login-etl run` reads, with values it accepts", () => {
    const names = Object.keys(containerEnv());
    expect(names.filter((n) => !RUN_ENV.has(n))).toEqual([]);
    expect(() => appConfig()).not.toThrow();
    expect(container().command ?? container().args).toContain("run");
  });

  it("exposes the app's ops port and probes routes the app serves: liveness /livez only, readiness /readyz", async () => {
    const c = container();
    const port = c.ports.find((p: { name: string }) => p.name === c.livenessProbe.httpGet.port);
    expect(port?.containerPort).toBe(appConfig().httpPort);
    expect(c.readinessProbe.httpGet.port).toBe(port?.name);
    expect(c.livenessProbe.httpGet.path).toBe("/livez");
    expect(c.readinessProbe.httpGet.path).toBe("/readyz");
    expect(c.startupProbe).toBeUndefined();
    const monitor = one("PodMonitor").spec.podMetricsEndpoints[0];
    expect(monitor.port).toBe(port?.name);
    // The real ops server (no dependency checks configured, so it is ready) answers each path.
    const ops = await startOpsServer({
      host: "127.0.0.1",
      port: 0,
      registry: new Registry(),
      probes: () => [],
    });
    try {
      for (const path of [c.livenessProbe.httpGet.path, c.readinessProbe.httpGet.path, monitor.path])
        expect((await fetch(`http://127.0.0.1:${ops.port}${path}`)).status, path).toBe(200);
    } finally {
      await ops.close();
    }
  });

  it("gives the pod a grace period comfortably above the app's shutdown deadline", () => {
    const graceSeconds = pod().spec.terminationGracePeriodSeconds;
    // The deadline, then releasing what is left and closing the pool and server.
    expect(graceSeconds * 1000).toBeGreaterThanOrEqual(appConfig().shutdownTimeoutMs + 10_000);
  });

  it("mounts the keyring from a Secret as the file PII_KEYRING_FILE names", () => {
    const file = containerEnv().PII_KEYRING_FILE as string;
    expect(containerEnv().PII_KEYRING).toBeUndefined();
    const mount = container().volumeMounts.find((m: { mountPath: string }) =>
      file.startsWith(`${m.mountPath}/`),
    );
    expect(mount?.readOnly).toBe(true);
    const volume = pod().spec.volumes.find((v: { name: string }) => v.name === mount.name);
    expect(volume.secret.secretName).toBeTruthy();
    expect(volume.secret.items.map((i: { path: string }) => i.path)).toContain(
      file.slice(mount.mountPath.length + 1),
    );
    const database = container().env.find((e: { name: string }) => e.name === "DATABASE_URL");
    expect(database.valueFrom.secretKeyRef.name).toBeTruthy();
  });

  it("runs as non-root on a read-only root file system with no capabilities and the default seccomp profile", () => {
    const podSecurity = pod().spec.securityContext;
    const security = container().securityContext;
    expect(podSecurity.runAsNonRoot).toBe(true);
    expect(podSecurity.runAsUser).toBeGreaterThan(0);
    expect(podSecurity.seccompProfile.type).toBe("RuntimeDefault");
    expect(security.readOnlyRootFilesystem).toBe(true);
    expect(security.allowPrivilegeEscalation).toBe(false);
    expect(security.capabilities.drop).toEqual(["ALL"]);
    expect(security.capabilities.add).toBeUndefined();
  });

  it("uses a ServiceAccount annotated for IRSA, and selects its pods in the PDB and the PodMonitor", () => {
    const account = one("ServiceAccount");
    expect(pod().spec.serviceAccountName).toBe(account.metadata.name);
    expect(account.metadata.annotations?.["eks.amazonaws.com/role-arn"]).toMatch(
      /^arn:aws:iam::\d{12}:role\//,
    );
    const podLabels = pod().metadata.labels as Record<string, string>;
    for (const kind of ["PodDisruptionBudget", "PodMonitor"]) {
      const selector = one(kind).spec.selector.matchLabels as Record<string, string>;
      for (const [k, v] of Object.entries(selector)) expect(podLabels[k], `${kind} selects ${k}`).toBe(v);
    }
    expect(one("PodDisruptionBudget").spec.maxUnavailable).toBe(1);
    // The alert rules' LoginEtlDown selects job="login-etl".
    expect(podLabels[one("PodMonitor").spec.jobLabel]).toBe("login-etl");
  });

  it("ships the alert rules file unchanged as the PrometheusRule", () => {
    const rules = parse(readFileSync(RULES_FILE, "utf8")) as { groups: unknown };
    expect(one("PrometheusRule").spec.groups).toEqual(rules.groups);
  });

  it("scales on the queue without busy replicas' in-flight messages asking for more replicas", () => {
    const scaled = one("ScaledObject");
    const config = appConfig();
    expect(scaled.spec.scaleTargetRef.name).toBe(one("Deployment").metadata.name);
    const trigger = scaled.spec.triggers[0];
    expect(trigger.type).toBe("aws-sqs-queue");
    expect(trigger.metadata.queueURL).toBe(config.queueUrl);
    expect(trigger.metadata.awsRegion).toBe(config.region);
    expect(one("TriggerAuthentication").metadata.name).toBe(trigger.authenticationRef.name);
    expect(one("TriggerAuthentication").spec.podIdentity.provider).toBe("aws");
    // KEDA asks for ceil((visible + in flight) / queueLength) replicas. With nothing
    // waiting, N replicas each holding LOGIN_ETL_MAX_IN_FLIGHT must ask for no more than N.
    const queueLength = Number(trigger.metadata.queueLength);
    const inFlightCounted = trigger.metadata.scaleOnInFlight !== "false";
    for (let n = 1; n <= scaled.spec.maxReplicaCount; n++) {
      const counted = inFlightCounted ? n * config.maxInFlight : 0;
      expect(Math.ceil(counted / queueLength), `${n} busy replicas`).toBeLessThanOrEqual(n);
    }
    expect(scaled.spec.minReplicaCount).toBeGreaterThanOrEqual(1);
  });
});
