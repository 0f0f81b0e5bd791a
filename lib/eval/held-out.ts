// How far a pruned model is from the dense one on held-out query sequences (query +
// the dense model's continuation, lib/queries/environment.ts). Over the predicted
// positions (position t of a sequence of L tokens predicts token t+1, t < L - 1), for
// all of them and for the answer positions only (those predicting a continuation token):
//   mean NLL of each model, pooled over positions; perplexity = exp(mean NLL);
//   loss = log(ppl_pruned) - log(ppl_dense) = meanNll_pruned - meanNll_dense;
//   KL = mean over positions of KL(p_dense || p_pruned) of the next-token distributions;
//   top-1 = fraction of positions where both argmaxes (lowest index on ties) agree.
// KL and argmax are the native klTop1 (per row in float64); all sums are float64 in
// sequence and position order, so the numbers do not depend on the thread count.
// Memory: one sequence's hidden states per model and a tile of its logits rows.
import { ArgumentRangeError, ShearsError } from '../errors';
import { klTop1 } from '../forward/compare';
import { ForwardModel } from '../forward/model';
import { QuerySequence } from '../queries/environment';
import { assertFiniteResult, nextTokenTargets } from './nonfinite';

/** Logits of both models for this many bytes per tile (default; rows x vocab x 4 x 2). */
export const LOGITS_TILE_BYTES = 64 * 2 ** 20;

export interface ModelScore {
  meanNll: number;
  perplexity: number;
}

export interface PositionMeasures {
  positions: number;
  dense: ModelScore;
  pruned: ModelScore;
  /** log(ppl_pruned) - log(ppl_dense), in nats. */
  loss: number;
  /** Mean KL(dense || pruned), in nats. */
  kl: number;
  top1Agreement: number;
}

export interface HeldOutMeasures {
  sequences: number;
  all: PositionMeasures;
  /** Null when no sequence has a continuation. */
  answer: PositionMeasures | null;
  seconds: number;
}

export interface HeldOutOptions {
  signal?: AbortSignal;
  tileBytes?: number;
  onProgress?: (done: number, total: number) => void;
}

class Sums {
  positions = 0;
  nllDense = 0;
  nllPruned = 0;
  kl = 0;
  agree = 0;

  measures(): PositionMeasures | null {
    if (this.positions === 0) return null;
    const score = (sum: number) => ({ meanNll: sum / this.positions, perplexity: Math.exp(sum / this.positions) });
    const dense = score(this.nllDense);
    const pruned = score(this.nllPruned);
    return { positions: this.positions, dense, pruned, loss: pruned.meanNll - dense.meanNll, kl: this.kl / this.positions, top1Agreement: this.agree / this.positions };
  }
}

function checkModels(dense: ForwardModel, pruned: ForwardModel): void {
  if (dense.config.vocabSize !== pruned.config.vocabSize)
    throw new ShearsError(
      `the pruned model has a vocabulary of ${pruned.config.vocabSize} tokens and the reference ${dense.config.vocabSize}: they cannot be compared`,
      'E_MODEL_MISMATCH',
    );
}

export async function heldOutMeasures(dense: ForwardModel, pruned: ForwardModel, sequences: readonly QuerySequence[], o: HeldOutOptions = {}): Promise<HeldOutMeasures> {
  const start = process.hrtime.bigint();
  checkModels(dense, pruned);
  const V = dense.config.vocabSize;
  const ctx = Math.min(dense.config.contextLength, pruned.config.contextLength);
  const tileRows = Math.max(1, Math.floor((o.tileBytes ?? LOGITS_TILE_BYTES) / (V * 8)));
  const all = new Sums();
  const answer = new Sums();
  for (let s = 0; s < sequences.length; s++) {
    o.signal?.throwIfAborted();
    const { ids, answerStart } = sequences[s];
    const L = ids.length;
    if (L > ctx) throw new ArgumentRangeError(`held-out sequence ${s + 1} has ${L} tokens, more than the context length ${ctx}`);
    if (!(Number.isInteger(answerStart) && answerStart >= 1 && answerStart <= L))
      throw new ArgumentRangeError(`held-out sequence ${s + 1}: answerStart ${answerStart} is not in [1, ${L}]`);
    if (L < 2) continue;
    const targets = nextTokenTargets(ids);
    const hd = await dense.forward(ids, 1, L);
    const hp = await pruned.forward(ids, 1, L);
    const nd = await dense.nll(hd, targets);
    const np = await pruned.nll(hp, targets);
    await assertFiniteResult(dense, nd.mean, `the reference model's NLL on held-out sequence ${s + 1}`, ids);
    await assertFiniteResult(pruned, np.mean, `the pruned model's NLL on held-out sequence ${s + 1}`, ids);
    // Rows [0, L - 1) predict; rows >= answerStart - 1 predict a continuation token.
    for (let r0 = 0; r0 < L - 1; r0 += tileRows) {
      const nr = Math.min(tileRows, L - 1 - r0);
      const ld = await dense.logits(hd.subarray(r0 * dense.config.hiddenSize, (r0 + nr) * dense.config.hiddenSize), nr);
      const lp = await pruned.logits(hp.subarray(r0 * pruned.config.hiddenSize, (r0 + nr) * pruned.config.hiddenSize), nr);
      const c = await klTop1(ld, lp, V, { backend: pruned.backend });
      for (let i = 0; i < nr; i++) {
        const t = r0 + i;
        for (const sums of t >= answerStart - 1 ? [all, answer] : [all]) {
          sums.positions += 1;
          sums.nllDense += nd.nll[t];
          sums.nllPruned += np.nll[t];
          sums.kl += c.kl[i];
          sums.agree += c.argmaxA[i] === c.argmaxB[i] ? 1 : 0;
        }
      }
    }
    o.onProgress?.(s + 1, sequences.length);
  }
  const measured = all.measures();
  if (!measured) throw new ArgumentRangeError('the held-out sequences have no predicted position (every one is a single token)');
  return { sequences: sequences.length, all: measured, answer: answer.measures(), seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}
