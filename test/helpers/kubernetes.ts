// The Kustomize base in deploy/kubernetes, rendered by `kubectl kustomize`
// (offline), and each rendered object checked against its Kubernetes or CRD
// JSON schema (from the kubernetes-models packages, Kubernetes 1.27 API;
// KEDA and Prometheus Operator CRDs).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ScaledObject, TriggerAuthentication } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { PodMonitor, PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import { Deployment } from "kubernetes-models/apps/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, ServiceAccount } from "kubernetes-models/v1";
import { parseAllDocuments } from "yaml";

export const KUSTOMIZE_DIR = fileURLToPath(new URL("../../deploy/kubernetes", import.meta.url));

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: rendered YAML, checked field by field by the tests
  [field: string]: any;
}

/** `kubectl kustomize DIR`, parsed; throws with kubectl's message when it fails or is missing. */
export function renderKustomize(dir = KUSTOMIZE_DIR): K8sObject[] {
  const res = spawnSync("kubectl", ["kustomize", dir], { encoding: "utf8" });
  if (res.error)
    throw new Error(`kubectl is needed to render ${dir} (${(res.error as NodeJS.ErrnoException).code})`);
  if (res.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${res.stderr}`);
  return parseAllDocuments(res.stdout).map((d) => {
    if (d.errors.length) throw new Error(`kubectl kustomize printed invalid YAML: ${d.errors[0]?.message}`);
    return d.toJS() as K8sObject;
  });
}

interface Validating {
  validate(): void;
}
const MODELS: Record<string, new (data: never) => Validating> = {
  "v1/ConfigMap": ConfigMap,
  "v1/ServiceAccount": ServiceAccount,
  "apps/v1/Deployment": Deployment,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "monitoring.coreos.com/v1/PodMonitor": PodMonitor,
  "monitoring.coreos.com/v1/PrometheusRule": PrometheusRule,
  "keda.sh/v1alpha1/ScaledObject": ScaledObject,
  "keda.sh/v1alpha1/TriggerAuthentication": TriggerAuthentication,
};

/** Schema problems of one object ("" when it validates); an object of an unknown kind is a problem too. */
export function schemaProblems(obj: K8sObject): string {
  const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  if (!Model) return `no schema known for ${obj.apiVersion} ${obj.kind}`;
  try {
    new Model(obj as never).validate();
    return "";
  } catch (err) {
    return `${obj.kind}/${obj.metadata.name}: ${(err as Error).message}`;
  }
}
