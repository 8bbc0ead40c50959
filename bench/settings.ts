// Benchmark knobs, from BENCH_* environment variables, and the paths the
// benchmark works with. LOGIN_ETL_* variables pass through to the drain
// process untouched, so the same knobs tune the product and the benchmark.
import path from "node:path";
import { fileURLToPath } from "node:url";

export type Phase = "masking" | "db" | "queue" | "pipeline" | "rss" | "sdk" | "sinkgrid";
export const ALL_PHASES: readonly Phase[] = ["masking", "db", "queue", "pipeline", "rss", "sdk", "sinkgrid"];
/** The optional phases run only when BENCH_ONLY names them. */
const DEFAULT_PHASES: readonly Phase[] = ["masking", "db", "queue", "pipeline", "rss"];

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.dirname(BENCH_DIR);
export const RESULTS_DIR = path.join(BENCH_DIR, "results");

function int(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw.replaceAll("_", ""));
  if (!Number.isInteger(n) || n < min)
    throw new Error(`${name}: expected a whole number ≥ ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

function list(name: string, fallback: readonly number[]): number[] {
  const raw = process.env[name];
  if (!raw) return [...fallback];
  const values = raw.split(",").map((s) => Number(s.trim()));
  if (!values.every((n) => Number.isInteger(n) && n >= 1))
    throw new Error(`${name}: expected whole numbers separated by commas`);
  return values;
}

function phases(): Phase[] {
  const raw = process.env.BENCH_ONLY;
  if (!raw) return [...DEFAULT_PHASES];
  const names = raw.split(",").map((s) => s.trim());
  for (const n of names) {
    if (!(ALL_PHASES as readonly string[]).includes(n))
      throw new Error(`BENCH_ONLY: unknown phase ${n}; expected some of ${ALL_PHASES.join(",")}`);
  }
  return names as Phase[];
}

export interface BenchSettings {
  /** Messages per pipeline repetition and per queue-limit repetition (issue: ≥ 100 000). */
  readonly messages: number;
  readonly repeat: number;
  /** Messages streamed through the long drain that samples RSS (issue: 1 000 000). */
  readonly rssMessages: number;
  /** Messages per poller-count probe of the queue limit. */
  readonly probeMessages: number;
  readonly pollerCounts: number[];
  /** Rows for the database limit and the sink alone. */
  readonly dbRows: number;
  readonly phases: Phase[];
  /** Write a V8 CPU profile of every drain process (bench/results/profiles). */
  readonly profile: boolean;
  /** The checkout whose bin/ and src/ are measured (a patched copy, for experiments). */
  readonly etlRoot: string;
  readonly malformedRatio: number;
  readonly duplicateRatio: number;
  readonly seed: number;
}

export function loadSettings(): BenchSettings {
  const messages = int("BENCH_MESSAGES", 100_000, 100);
  return {
    messages,
    repeat: int("BENCH_REPEAT", 3, 1),
    rssMessages: int("BENCH_RSS_MESSAGES", 1_000_000, 1_000),
    probeMessages: int("BENCH_PROBE_MESSAGES", Math.min(20_000, messages), 100),
    pollerCounts: list("BENCH_POLLERS", [1, 4, 8, 16]),
    dbRows: int("BENCH_DB_ROWS", messages, 100),
    phases: phases(),
    profile: process.env.BENCH_PROFILE === "1",
    etlRoot: path.resolve(process.env.BENCH_ETL_ROOT || REPO_ROOT),
    malformedRatio: 0.01,
    duplicateRatio: 0.1,
    seed: 42,
  };
}

/** The project's own Node 24 (npm scripts put it first on PATH; spawn it by path to be sure). */
export function nodeBinary(root = REPO_ROOT): string {
  return path.join(root, "node_modules", ".bin", "node");
}
