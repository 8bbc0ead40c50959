// Waiting on work that may outlive the shutdown deadline: the wait stops at the
// deadline, but the work is not cancelled and may still finish afterwards.

/** `promise`'s value, or null if `signal` aborts first (a later rejection is then ignored). */
export function beforeDeadline<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | null> {
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(null);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}
