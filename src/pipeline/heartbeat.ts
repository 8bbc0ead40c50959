// Visibility heartbeat: a delivery still in hand when half of its visibility
// timeout has passed gets the timeout again, so a slow batch (a database
// outage, a long retry) is not redelivered to another consumer meanwhile.
// Capped by maxHoldSeconds so a stuck process cannot hide messages forever.
import type { Problems } from "../ops/problems.ts";
import type { Delivery, PipelineDeps, PipelineOptions } from "./contracts.ts";

export function createHeartbeat(
  deps: PipelineDeps,
  options: PipelineOptions,
  held: () => Delivery[],
  problems: Problems,
) {
  const visibilityS = options.visibilityTimeoutSeconds;
  const visibleUntil = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  /** The beat under way, if any: one at a time, so a slow ChangeMessageVisibility never piles up calls. */
  let beating: Promise<void> | null = null;

  async function beat() {
    if (!visibilityS) return;
    const now = Date.now();
    const heldNow = held();
    const handles = new Set(heldNow.map((d) => d.handle));
    for (const handle of visibleUntil.keys()) if (!handles.has(handle)) visibleUntil.delete(handle);
    const due = heldNow.filter((d) => {
      const until = visibleUntil.get(d.handle) ?? d.receivedAtMs + visibilityS * 1000;
      return until - now < (visibilityS * 1000) / 2 && now - d.receivedAtMs < options.maxHoldSeconds * 1000;
    });
    if (due.length === 0) return;
    // Never beyond the hold: the last extension only covers what is left of it.
    const holdEndMs = (d: Delivery) => d.receivedAtMs + options.maxHoldSeconds * 1000;
    const seconds = Math.max(
      1,
      Math.min(visibilityS, Math.ceil((Math.min(...due.map(holdEndMs)) - now) / 1000)),
    );
    try {
      const failed = new Set(await deps.source.extend(due, seconds));
      for (const d of due) if (!failed.has(d)) visibleUntil.set(d.handle, now + seconds * 1000);
      deps.metrics.visibilityExtended.inc(due.length - failed.size);
    } catch {
      problems.report(
        "acking",
        "VISIBILITY_EXTEND_FAILED",
        { count: due.length },
        "could not extend visibility",
      );
    }
  }

  return {
    start() {
      if (!visibilityS) return;
      const everyMs = Math.max(250, (visibilityS * 1000) / 4);
      timer = setInterval(() => {
        if (beating) return;
        beating = beat().finally(() => {
          beating = null;
        });
      }, everyMs);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
    },
    /** Resolves when no extension is under way (beat never rejects: its failures are reported). */
    idle(): Promise<void> {
      return beating ?? Promise.resolve();
    },
  };
}
