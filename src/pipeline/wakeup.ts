// A level-triggered wake-up for the pipeline's loops: they re-check their
// condition whenever shared state changed, or when their own timer is due.

export class Wakeup {
  private waiters: Array<() => void> = [];

  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves at the next notify(), or after `timeoutMs` when given. */
  wait(timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const wake = () => {
        if (timer) clearTimeout(timer);
        resolve();
      };
      this.waiters.push(wake);
      if (timeoutMs !== undefined) {
        timer = setTimeout(
          () => {
            this.waiters = this.waiters.filter((w) => w !== wake);
            resolve();
          },
          Math.max(0, timeoutMs),
        );
      }
    });
  }

  async until(
    condition: () => boolean,
    nextCheckMs: () => number | undefined = () => undefined,
  ): Promise<void> {
    while (!condition()) await this.wait(nextCheckMs());
  }
}
