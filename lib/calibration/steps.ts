// Long synchronous work written once as a generator of steps (it yields between units of
// work: one tokenizer call, one row), run either on the spot or in time slices that hand
// the event loop back between them. Both run the very same steps in the same order, so
// they give the same result; only when the event loop gets a turn differs.
import { setImmediate as nextTurn } from 'node:timers/promises';

export type Steps<T> = Generator<void, T, void>;

/** Runs every step now and returns the result. */
export function runNow<T>(steps: Steps<T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

export interface SliceOptions {
  /** Milliseconds of work before the event loop gets a turn (default 5). */
  sliceMs?: number;
  /** Checked at every turn: an abort rejects with the signal's reason. */
  signal?: AbortSignal;
}

export const DEFAULT_SLICE_MS = 5;

/**
 * Runs the steps in slices of about `sliceMs` (a step is never cut: one long step is one
 * long slice), giving the event loop a turn (setImmediate: timers and I/O run) between.
 */
export async function runInSlices<T>(steps: Steps<T>, o: SliceOptions = {}): Promise<T> {
  const sliceMs = o.sliceMs ?? DEFAULT_SLICE_MS;
  o.signal?.throwIfAborted();
  let start = performance.now();
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    if (performance.now() - start >= sliceMs) {
      await nextTurn();
      o.signal?.throwIfAborted();
      start = performance.now();
    }
  }
}

/** One turn of the event loop (between two long synchronous calls), then the abort check. */
export async function yieldTurn(signal?: AbortSignal): Promise<void> {
  await nextTurn();
  signal?.throwIfAborted();
}
