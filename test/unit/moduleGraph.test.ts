// The source tree's shape, read from its import statements: no module imports
// itself back through a chain, and the pipeline core stays free of adapters.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(import.meta.dirname, "../../src");
const IMPORT =
  /^\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"|^\s*import\s+"([^"]+)"|import\(\s*"([^"]+)"\s*\)/gm;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

function specifiers(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(IMPORT)].map((m) => m[1] ?? m[2] ?? m[3] ?? "");
}

const graph = new Map<string, { local: string[]; packages: string[] }>();
for (const file of files(SRC)) {
  const specs = specifiers(file);
  graph.set(relative(SRC, file), {
    local: specs.filter((s) => s.startsWith(".")).map((s) => relative(SRC, resolve(dirname(file), s))),
    packages: specs.filter((s) => !s.startsWith(".")),
  });
}

function findCycle(): string[] | null {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string): string[] | null => {
    if (state.get(node) === "done") return null;
    if (state.get(node) === "open") return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node)?.local ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(node, "done");
    return null;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return null;
}

describe("module graph of src/", () => {
  it("reads every module and resolves every local import to a file", () => {
    expect(graph.size).toBeGreaterThan(50);
    for (const [file, { local }] of graph) {
      for (const target of local) expect(graph.has(target), `${file} imports ${target}`).toBe(true);
    }
  });

  it("has no import cycle", () => {
    expect(findCycle()).toBeNull();
  });

  it("keeps the pipeline core and the transform free of SQS clients and pg", () => {
    for (const [file, { local, packages }] of graph) {
      if (!file.startsWith("pipeline/") && !file.startsWith("transform/")) continue;
      expect(packages.filter((p) => p === "pg" || p.startsWith("@aws-sdk/") || p.startsWith("pg-"))).toEqual(
        [],
      );
      expect(local.filter((l) => l.startsWith("sqs/") || l.startsWith("postgres/"))).toEqual([]);
    }
  });
});
