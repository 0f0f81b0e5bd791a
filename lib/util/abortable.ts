// Awaiting work that cannot itself be cancelled (loading a model: mapping files,
// building the tokenizer) without making a stop wait for it.

/** Whether `e` is a stop (the run's signal aborted, or an AbortError) rather than a failure of the work. */
export function isAbort(e: unknown, signal?: AbortSignal): boolean {
  return (signal?.aborted ?? false) || (e as Error)?.name === 'AbortError';
}

/**
 * Resolves with `work`'s value, or rejects with the signal's reason as soon as it is
 * aborted. A value that arrives after the abort is handed to `discard` (close a model
 * nobody will use) instead of leaking.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined, discard: (value: T) => void): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) {
    work.then(discard, () => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const onAbort = () => {
      settled = true;
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        if (settled) discard(v);
        else resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        if (!settled) reject(e);
      },
    );
  });
}
