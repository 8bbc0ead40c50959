// CPU time and memory of other processes, read from /proc (Linux): the drain
// process, the emulator process and the PostgreSQL server.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

interface Stat {
  readonly ppid: number;
  /** user + system seconds of the process itself. */
  readonly cpu: number;
  /** user + system seconds of its children that it has waited for. */
  readonly reapedChildrenCpu: number;
}

function readStat(pid: number): Stat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // Fields after "(comm) ": state ppid … utime(14) stime(15) cutime(16) cstime(17), numbered from 1.
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const at = (field: number) => Number(f[field - 3]);
  const tick = clockTicks();
  return { ppid: at(4), cpu: (at(14) + at(15)) / tick, reapedChildrenCpu: (at(16) + at(17)) / tick };
}

/** user + system CPU seconds of one process (all its threads); null once it is gone. */
export function processCpuSeconds(pid: number): number | null {
  return readStat(pid)?.cpu ?? null;
}

/** A process tree's CPU seconds: the root, the children it reaped, and the children still running. */
export function treeCpuSeconds(rootPid: number): number | null {
  const root = readStat(rootPid);
  if (!root) return null;
  let total = root.cpu + root.reapedChildrenCpu;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const child = readStat(Number(entry));
    if (child && child.ppid === rootPid) total += child.cpu + child.reapedChildrenCpu;
  }
  return total;
}

export interface Memory {
  /** Resident set size now, bytes. */
  readonly rss: number;
  /** Peak resident set size, bytes. */
  readonly hwm: number;
}

export function processMemory(pid: number): Memory | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return null;
  }
  const kb = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? Number.NaN) * 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

export function loadAverage(): [number, number, number] {
  const [a = 0, b = 0, c = 0] = os.loadavg();
  return [a, b, c];
}

/** Busy CPU seconds of the whole machine so far (all cores), from /proc/stat. */
export function machineBusySeconds(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const [, user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line
    .trim()
    .split(/\s+/)
    .map(Number);
  return (user + nice + system + irq + softirq + steal) / clockTicks();
}
