// The printed report: machine, settings, the measurement table (medians with
// the range of the repetitions) and the targets with PASS/MISS.
import type { WriteRun } from "./dbLimit.ts";
import { type BenchResults, FLAT_TOLERANCE, queueLimitOf } from "./results.ts";
import { median, relativeRange, type Spread } from "./stats.ts";

const MB = 2 ** 20;
const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–");
const fixed = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : "–");
const range = (s: Spread, f: (n: number) => string) =>
  s.samples.length > 1 ? `${f(s.min)} – ${f(s.max)}` : "";

function render(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd(),
  );
}

export function formatReport(r: BenchResults): string {
  const out: string[] = [];
  const m = r.machine;
  const s = r.settings;
  out.push(`login-etl benchmark · ${r.startedAt} · ${Math.round(r.seconds)} s`);
  out.push(
    `machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}; ` +
      `load average ${m.loadAverageAtStart.map((x) => x.toFixed(2)).join(" ")} at start, ${m.loadAverageAtEnd.map((x) => x.toFixed(2)).join(" ")} at end`,
  );
  out.push(
    `login-etl settings: pollers ${r.config.pollers}, batch size ${r.config.batchSize}, flush interval ${r.config.flushIntervalMs} ms, ` +
      `writers ${r.config.writers}, max in flight ${r.config.maxInFlight}` +
      (s.etlRoot ? `; code from ${s.etlRoot}` : ""),
  );
  out.push(
    `N = ${int(s.messages)} messages (${s.malformedRatio * 100} % malformed, ${s.duplicateRatio * 100} % repeated ip/device_id), ` +
      `${s.repeat} repetitions: median, [min – max]`,
  );
  out.push("");
  const rows: string[][] = [["#", "measure", "median", "[min – max]", "ratio", "target", "result"]];
  /** A row without ratio, target or verdict. */
  const plain = (num: string, label: string, value: string, spread = "") => {
    rows.push([num, label, value, spread, "", "", ""]);
  };
  const target = (prefix: string) => r.targets.find((t) => t.name.startsWith(prefix));
  const verdict = (prefix: string) => {
    const t = target(prefix);
    return t ? [t.target, t.pass ? "PASS" : "MISS"] : ["", ""];
  };
  if (r.queue) {
    const q = r.queue;
    plain(
      "1",
      `queue limit: receive 10 + delete batch, ${q.bestPollers} pollers`,
      `${int(q.messagesPerSecond.median)} msg/s`,
      range(q.messagesPerSecond, int),
    );
    plain(
      "",
      `  poller probe, medians (${int(s.probeMessages)} msgs): ${q.probeMedians.map((p) => `${p.pollers}→${int(p.messagesPerSecond)}`).join(", ")} msg/s`,
      "",
    );
    plain(
      "",
      "  CPU per message: loop process / emulator",
      `${int(q.consumerCpuUsPerMessage.median)} / ${int(q.emulatorCpuUsPerMessage.median)} µs`,
    );
    // Older results files have no lean loop.
    if (q.lean) {
      plain(
        "1b",
        `lean plain loop: same loop with the lean client (src/sqs), ${q.bestPollers} pollers`,
        `${int(q.lean.messagesPerSecond.median)} msg/s`,
        range(q.lean.messagesPerSecond, int),
      );
      plain(
        "",
        "  CPU per message: loop process / emulator",
        `${int(q.lean.consumerCpuUsPerMessage.median)} / ${int(q.lean.emulatorCpuUsPerMessage.median)} µs`,
      );
    }
  }
  const d = r.database;
  if (d) {
    const ratio = d.sink.rowsPerSecond.median / d.limitRowsPerSecond;
    const par = d.rawCopyParallel;
    plain(
      "2",
      `database limit: raw COPY of ${int(d.rows)} rows, best of the two below`,
      `${int(d.limitRowsPerSecond)} rows/s`,
    );
    plain(
      "",
      "  1 stream, 1 transaction",
      `${int(d.rawCopy.rowsPerSecond.median)} rows/s`,
      range(d.rawCopy.rowsPerSecond, int),
    );
    if (par) {
      plain(
        "",
        `  ${par.streams} streams (= writers), 1 transaction each`,
        `${int(par.rowsPerSecond.median)} rows/s`,
        range(par.rowsPerSecond, int),
      );
    }
    rows.push([
      "3",
      `sink alone: createPostgresSink, batches of ${d.sink.batchSize}, ${d.sink.writers} writers`,
      `${int(d.sink.rowsPerSecond.median)} rows/s`,
      range(d.sink.rowsPerSecond, int),
      `${fixed(ratio, 2)} × #2`,
      ...verdict("sink"),
    ]);
    const cpu = (runs: WriteRun[], f: (x: WriteRun) => number) => fixed(median(runs.map(f)), 1);
    const pair = (runs: WriteRun[]) =>
      `${cpu(runs, (x) => x.clientCpuUsPerRow)} / ${cpu(runs, (x) => x.postgresCpuUsPerRow)}`;
    plain(
      "",
      "  CPU per row, client / PostgreSQL: raw COPY; sink",
      `${pair(d.rawCopy.runs)}; ${pair(d.sink.runs)} µs`,
    );
  }
  const p = r.pipeline;
  if (p) {
    const limit = r.queue ? queueLimitOf(r.queue) : null;
    const ratio = limit ? p.messagesPerSecond.median / limit.messagesPerSecond : Number.NaN;
    rows.push([
      "4",
      `pipeline: login-etl drain of ${int(s.messages)} (produce → drain)`,
      `${int(p.messagesPerSecond.median)} msg/s`,
      range(p.messagesPerSecond, int),
      limit ? `${fixed(ratio, 2)} × ${limit.label}` : "",
      ...verdict("pipeline"),
    ]);
    plain(
      "5",
      "CPU per message, drain process (user+sys / msgs)",
      `${int(p.cpuUsPerMessage.median)} µs`,
      range(p.cpuUsPerMessage, int),
    );
    const lean = r.queue?.lean;
    rows.push([
      "",
      "  same, while messages flowed (no start-up)",
      `${int(p.steadyCpuUsPerMessage.median)} µs`,
      range(p.steadyCpuUsPerMessage, int),
      lean ? `${fixed(p.steadyCpuUsPerMessage.median / lean.consumerCpuUsPerMessage.median, 2)} × #1b` : "",
      ...verdict("drain CPU"),
    ]);
    // Older results files have no start-up spread.
    if (p.startupSeconds) {
      rows.push([
        "",
        "  start-up: process spawned → first message taken",
        `${fixed(p.startupSeconds.median, 2)} s`,
        range(p.startupSeconds, (n) => fixed(n, 2)),
        "",
        ...verdict("start-up"),
      ]);
    }
    plain(
      "",
      "  CPU per message: emulator / PostgreSQL",
      `${int(p.emulatorCpuUsPerMessage.median)} / ${int(p.postgresCpuUsPerMessage.median)} µs`,
    );
    plain(
      "",
      "  peak RSS of the drains above",
      `${int(p.peakRssBytes.median / MB)} MB`,
      range(p.peakRssBytes, (n) => int(n / MB)),
    );
  }
  const l = r.rss;
  if (l) {
    rows.push([
      "",
      `peak RSS, drain of ${int(l.run.messages)} (${int(l.run.messagesPerSecond)} msg/s)`,
      `${int(l.peakRssBytes / MB)} MB`,
      "",
      "",
      ...verdict("peak RSS"),
    ]);
    rows.push([
      "",
      "  RSS at 10 % / 50 % / 100 % of it",
      `${l.points.map((x) => int(x.rssBytes / MB)).join(" / ")} MB`,
      "",
      `${fixed(l.secondHalfMaxRssBytes / l.firstHalfMaxRssBytes, 2)} ×`,
      `flat (≤ ${FLAT_TOLERANCE} ×)`,
      target("RSS flat")?.pass ? "PASS" : "MISS",
    ]);
    plain("", `  CPU per message of that drain (whole process)`, `${int(l.run.cpuUsPerMessage)} µs`);
  } else if (p) {
    rows.push(["", "(long drain not run: BENCH_ONLY leaves out rss)", "", "", "", ...verdict("peak RSS")]);
  }
  if (r.masking) {
    rows.push([
      "6",
      "masking: createMasker, ip + device_id",
      `${fixed(r.masking.maskUs.median, 1)} µs/msg`,
      range(r.masking.maskUs, (n) => fixed(n, 1)),
      "",
      ...verdict("masking"),
    ]);
    plain(
      "",
      "  whole transform: decode, validate, mask, row",
      `${fixed(r.masking.transformUs.median, 1)} µs/msg`,
      range(r.masking.transformUs, (n) => fixed(n, 1)),
    );
  }
  if (r.vault) {
    rows.push([
      "6b",
      `vault: seal new pseudonyms (${fixed(r.vault.sealsPerMessage, 2)} values/msg), AES-256-GCM`,
      `${fixed(r.vault.vaultUs.median, 1)} µs/msg`,
      range(r.vault.vaultUs, (n) => fixed(n, 1)),
      "",
      ...verdict("vault"),
    ]);
    plain(
      "",
      "  for comparison: one HPKE single-shot seal per value",
      `${fixed(r.vault.hpkePerValueUs.median, 1)} µs/value`,
      range(r.vault.hpkePerValueUs, (n) => fixed(n, 1)),
    );
    const gcm = r.vault.gcmPerValueUs;
    if (gcm) {
      plain(
        "",
        "  AES-256-GCM alone, batched (OpenSSL AES, GHASH in JS)",
        `${fixed(gcm.batched.median, 2)} µs/value`,
        range(gcm.batched, (n) => fixed(n, 2)),
      );
      plain(
        "",
        "  AES-256-GCM alone, one node:crypto cipher per value",
        `${fixed(gcm.perValue.median, 2)} µs/value`,
        range(gcm.perValue, (n) => fixed(n, 2)),
      );
    }
  }
  out.push(...render(rows));
  if (r.sdk) {
    out.push("");
    const base = r.sdk.micro.find((m) => m.variant === "product")?.cpuUsPerPair.median ?? Number.NaN;
    out.push(
      "AWS SDK CPU per ReceiveMessage(10) + DeleteMessageBatch(10), no network (canned responses, in-process):",
    );
    out.push(
      ...render([
        ["variant", "CPU per pair", "[min – max]", "per message", "vs product"],
        ...r.sdk.micro.map((m) => [
          m.variant,
          `${int(m.cpuUsPerPair.median)} µs`,
          range(m.cpuUsPerPair, int),
          `${fixed(m.cpuUsPerPair.median / 10, 1)} µs`,
          `${m.cpuUsPerPair.median >= base ? "+" : ""}${fixed((100 * (m.cpuUsPerPair.median - base)) / base, 0)} %`,
        ]),
      ]),
    );
    out.push("");
    out.push(
      `SQS client options (plain loop, ${r.sdk.pollers} pollers, ${int(r.sdk.messages)} messages, ${s.repeat} repetitions interleaved):`,
    );
    out.push(
      ...render([
        ["variant", "msg/s", "[min – max]", "loop CPU/msg", "emulator CPU/msg", "what"],
        ...r.sdk.variants.map((v) => [
          v.variant,
          int(v.messagesPerSecond.median),
          range(v.messagesPerSecond, int),
          `${int(v.consumerCpuUsPerMessage.median)} µs`,
          `${int(v.emulatorCpuUsPerMessage.median)} µs`,
          v.description,
        ]),
      ]),
    );
  }
  if (r.sinkGrid) {
    out.push("");
    out.push(
      `sink alone over batch size × writers (${int(r.database?.rows ?? s.dbRows)} rows, ${s.repeat} repetitions interleaved):`,
    );
    out.push(
      ...render([
        ["batch size", "writers", "rows/s", "[min – max]", "client CPU/row", "PostgreSQL CPU/row"],
        ...r.sinkGrid.map((c) => [
          String(c.batchSize),
          String(c.writers),
          int(c.rowsPerSecond.median),
          range(c.rowsPerSecond, int),
          `${fixed(c.clientCpuUsPerRow, 1)} µs`,
          `${fixed(c.postgresCpuUsPerRow, 1)} µs`,
        ]),
      ]),
    );
  }
  out.push("");
  const noisy = [
    r.queue?.messagesPerSecond,
    r.pipeline?.messagesPerSecond,
    r.database?.rawCopy.rowsPerSecond,
    r.database?.rawCopyParallel?.rowsPerSecond,
    r.database?.sink.rowsPerSecond,
  ]
    .filter((x): x is Spread => x !== undefined)
    .map(relativeRange);
  const other = [...(r.queue?.runs ?? []), ...(r.pipeline?.runs ?? [])].map((x) => x.otherCpuUsPerMessage);
  if (noisy.length) {
    out.push(
      `noise: repetitions spread up to ${int(100 * Math.max(...noisy))} % of their median; ` +
        `other processes on the machine used up to ${int(Math.max(0, ...other))} µs of CPU per message during the drains.`,
    );
  }
  const misses = r.targets.filter((t) => !t.pass);
  if (r.failure) out.push(`THE RUN FAILED, the table is incomplete: ${r.failure}`);
  if (misses.length) out.push(`targets missed: ${misses.map((t) => t.name).join("; ")}`);
  else if (!r.failure && r.targets.length) out.push("all targets met");
  return out.join("\n");
}
