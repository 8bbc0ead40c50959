// Drain progress: a bar on a terminal (done / approximate total, rate, ETA),
// a plain line every few seconds otherwise (logs, CI). Goes to stderr so that
// stdout keeps only the result.
import cliProgress from "cli-progress";

export interface ProgressSource {
  done(): number;
  /** The queue's approximate backlog when the drain started. */
  readonly approximateTotal: number;
}

export function startProgress(
  stream: NodeJS.WritableStream & { isTTY?: boolean },
  source: ProgressSource,
  plainEveryMs = 5_000,
) {
  const started = Date.now();
  const rate = () => source.done() / Math.max(0.001, (Date.now() - started) / 1000);
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: "draining [{bar}] {value}/{total} messages | {rate}/s | ETA {eta_formatted}",
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(Math.max(1, source.approximateTotal), 0, { rate: 0 });
    const timer = setInterval(() => {
      const done = source.done();
      // The total is approximate (SQS counts), and new messages may arrive: grow it rather than overflow.
      if (done > bar.getTotal()) bar.setTotal(done);
      bar.update(done, { rate: Math.round(rate()) });
    }, 200);
    return () => {
      clearInterval(timer);
      bar.update(source.done(), { rate: Math.round(rate()) });
      bar.stop();
    };
  }
  const timer = setInterval(() => {
    stream.write(
      `draining: ${source.done()} of ~${source.approximateTotal} messages, ${Math.round(rate())}/s\n`,
    );
  }, plainEveryMs);
  timer.unref();
  return () => clearInterval(timer);
}
