// Where a forward pass stops being finite. Only run once a result is already non-finite
// (NaN or infinite NLL), so normal evaluations pay nothing: the window is run again one
// stage at a time (embedding, each block, final norm + LM head) and the first stage
// whose output holds a non-finite value is named.
import { NonFiniteError } from '../errors';
import { ForwardModel } from '../forward/model';

export type NonFiniteSite = { stage: 'embedding' } | { stage: 'block'; block: number } | { stage: 'head' };

function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

/**
 * Runs one sequence (`tokens`, batch 1) stage by stage and returns the first stage whose
 * output is not finite; `targets` (next-token ids, -1 for none) let the head be checked
 * through its NLL. Null when every stage is finite (the caller's result came from elsewhere).
 */
export async function locateNonFinite(model: ForwardModel, tokens: Int32Array, targets?: Int32Array): Promise<NonFiniteSite | null> {
  const seq = tokens.length;
  const hidden = await model.embed(tokens, 1, seq);
  if (firstNonFinite(hidden) >= 0) return { stage: 'embedding' };
  for (let i = 0; i < model.numLayers; i++) {
    await model.runBlock(i, hidden, { batch: 1, seq });
    if (firstNonFinite(hidden) >= 0) return { stage: 'block', block: i };
  }
  if (targets) {
    const r = await model.nll(hidden, targets);
    if (!Number.isFinite(r.mean)) return { stage: 'head' };
  } else if (firstNonFinite(await model.logits(hidden, seq)) >= 0) return { stage: 'head' };
  return null;
}

export function describeSite(site: NonFiniteSite | null, numLayers: number): string {
  if (site === null) return 'every stage of the forward pass is finite when run alone';
  switch (site.stage) {
    case 'embedding':
      return 'non-finite values first appear in the token embeddings';
    case 'block':
      return `non-finite values first appear in the output of block ${site.block} (of ${numLayers}, counted from 0)`;
    case 'head':
      return 'the blocks are finite; non-finite values first appear in the final norm / LM head';
  }
}

/**
 * Throws NonFiniteError when `value` (`what`: "perplexity", "the NLL of window 3"...) is
 * not finite, naming where the forward pass of `tokens` (the window it came from) first
 * produced a non-finite value. `targets` as for locateNonFinite (default: the next
 * tokens of the window, the last position predicting nothing).
 */
export async function assertFiniteResult(model: ForwardModel, value: number, what: string, tokens: Int32Array, targets?: Int32Array): Promise<void> {
  if (Number.isFinite(value)) return;
  const t = targets ?? nextTokenTargets(tokens);
  const site = await locateNonFinite(model, tokens, t);
  throw new NonFiniteError(`${what} is ${String(value)}: ${describeSite(site, model.numLayers)}`);
}

/** Row t predicts token t+1; the last row predicts nothing (-1). */
export function nextTokenTargets(tokens: Int32Array): Int32Array {
  const t = new Int32Array(tokens.length);
  t.set(tokens.subarray(1));
  t[tokens.length - 1] = -1;
  return t;
}
