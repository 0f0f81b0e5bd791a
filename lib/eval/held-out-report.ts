// What `shears eval --reference` prints: a few lines for people, or one JSON object
// (snake_case keys, as the other commands' --json).
import { PositionMeasures } from './held-out';
import { CompareReport } from './held-out-run';

function positionsJson(m: PositionMeasures) {
  return {
    positions: m.positions,
    perplexity_dense: m.dense.perplexity,
    perplexity_pruned: m.pruned.perplexity,
    mean_nll_dense: m.dense.meanNll,
    mean_nll_pruned: m.pruned.meanNll,
    loss: m.loss,
    kl: m.kl,
    top1_agreement: m.top1Agreement,
  };
}

export function compareJson(r: CompareReport): Record<string, unknown> {
  return {
    queries: r.queries,
    generate_tokens: r.generateTokens,
    generated_tokens: r.generated,
    sampling: { temperature: r.sampling.temperature, top_k: r.sampling.topK, seed: r.sampling.seed, greedy: r.sampling.greedy },
    all: positionsJson(r.all),
    answer: r.answer ? positionsJson(r.answer) : null,
    seconds: r.timings,
    backend: r.backend,
  };
}

function line(what: string, m: PositionMeasures): string {
  return (
    `${what} (${m.positions} positions): perplexity ${m.pruned.perplexity.toFixed(4)} (dense ${m.dense.perplexity.toFixed(4)}), ` +
    `loss ${m.loss.toFixed(5)} nats, KL ${m.kl.toFixed(5)} nats, top-1 agreement ${(100 * m.top1Agreement).toFixed(2)}%`
  );
}

export function compareText(r: CompareReport): string {
  const how = r.sampling.greedy ? 'greedy' : `sampled at temperature ${r.sampling.temperature}, top-k ${r.sampling.topK || 'all'}, seed ${r.sampling.seed}`;
  return [
    `${r.queries} held-out queries, ${r.generated} continuation tokens from the reference (up to ${r.generateTokens} per query, ${how})`,
    line('all positions', r.all),
    r.answer ? line('answer positions', r.answer) : 'answer positions: none (no continuation was generated)',
    `${r.timings.total.toFixed(2)} s (load ${r.timings.load.toFixed(2)}, generate ${r.timings.environment.toFixed(2)}, measure ${r.timings.measures.toFixed(2)}; ${r.backend.device})`,
  ].join('\n');
}
