// `node bench/profileSummary.ts FILE.cpuprofile [TOP]`: where a V8 CPU profile
// (node --cpu-prof, as BENCH_PROFILE=1 writes for every drain) spends its
// time, by package or area and by function, as shares of the samples.
import { readFileSync } from "node:fs";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: number[];
}
interface Profile {
  readonly nodes: ProfileNode[];
  readonly samples: number[];
  readonly timeDeltas: number[];
}

/** The package (node_modules/<pkg>), login-etl's own folder, Node's internals, or V8's pseudo-frames. */
export function areaOf(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] as string;
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/")[0]}`;
  const own = /\/(src|bench)\/(.+?)\/?[^/]*$/.exec(url);
  return own ? `login-etl ${own[1]}/${own[2]}` : url;
}

export function summarize(profile: Profile, top = 25): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const area = areaOf(node);
    byArea.set(area, (byArea.get(area) ?? 0) + us);
    const file = node.callFrame.url.split("/").slice(-2).join("/");
    const fn = `${node.callFrame.functionName || "(anonymous)"} ${file}:${node.callFrame.lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  }
  const lines = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => `${((100 * us) / total).toFixed(1).padStart(5)} %  ${k}`);
  return [
    `${(total / 1e6).toFixed(1)} s sampled`,
    "",
    "self time by area:",
    ...lines(byArea),
    "",
    "self time by function:",
    ...lines(byFunction),
  ].join("\n");
}

if (import.meta.main) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write("usage: node bench/profileSummary.ts FILE.cpuprofile [TOP]\n");
    process.exit(2);
  }
  process.stdout.write(
    `${summarize(JSON.parse(readFileSync(file, "utf8")) as Profile, Number(top ?? 25))}\n`,
  );
}
