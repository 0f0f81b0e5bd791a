// A synthetic sweep for the renderer tests: made-up numbers, shaped like a real sweep
// (three methods, unstructured levels, N:M patterns, NA cells with reasons).
import type { SweepCell, SweepResults } from '../../lib/report/types';

const LEVELS = [0.1, 0.3, 0.5, 0.7, 0.9];

function cell(method: string, pattern: string, level: number, i: number, base: number): SweepCell {
  const ppl = 12.5 * Math.exp(base * level ** 3 * 6);
  return {
    method,
    pattern: pattern as SweepCell['pattern'],
    level,
    sparsity: level - 0.0001 * i,
    perplexity: ppl,
    kl: 0.013 * base * (1 + 30 * level ** 3) + 1e-7 * i,
    top1_agreement: 1 - 0.4 * level ** 2 * base,
    timings: { calibrate: 0.5 + i / 7, prune: 1.25 * base + i / 3, evaluate: 2.125, total: 0 },
    peak_rss_bytes: 512 * 2 ** 20 + i * 4096,
    status: 'ok',
  };
}

export function syntheticResults(): SweepResults {
  const methods: [string, number][] = [
    ['magnitude', 1.9],
    ['wanda', 1.0],
    ['sparsegpt', 0.8],
  ];
  const cells: SweepCell[] = [];
  let i = 0;
  for (const [m, base] of methods) {
    for (const level of LEVELS) cells.push(cell(m, 'unstructured', level, i++, base));
    cells.push(cell(m, '2:4', 0.5, i++, base * 1.3));
    cells.push(cell(m, '4:8', 0.5, i++, base * 1.15));
  }
  for (const c of cells) {
    const t = c.timings!;
    t.total = t.calibrate + t.prune + t.evaluate;
  }
  // Magnitude has no calibration phase; SparseGPT fails at 90%; 4:8 does not apply to wanda.
  for (const c of cells.filter((x) => x.method === 'magnitude')) delete c.timings!.calibrate;
  const markNA = (c: SweepCell | undefined, reason: string) =>
    Object.assign(c!, {
      status: 'na',
      reason,
      perplexity: null,
      sparsity: null,
      kl: null,
      top1_agreement: null,
      timings: null,
      peak_rss_bytes: null,
    });
  markNA(
    cells.find((c) => c.method === 'sparsegpt' && c.level === 0.9),
    'Hessian not positive definite | damping 0.01',
  );
  markNA(
    cells.find((c) => c.method === 'wanda' && c.pattern === '4:8'),
    'pattern not requested for this method',
  );
  return {
    model: 'synthetic-tiny (test fixture)',
    dense: { perplexity: 12.5, sparsity: 0.000012 },
    settings: {
      calibration: 'synthetic, 16 x 128 tokens',
      eval_data: 'synthetic held-out text',
      seq_len: 128,
      stats_mode: 'exact sequential',
      shears_version: '0.1.0',
    },
    cells,
  };
}

/** An ok cell with the given perplexity; the other metrics are fixed placeholders. */
export function okCell(method: string, pattern: string, level: number, perplexity: number): SweepCell {
  return {
    method,
    pattern: pattern as SweepCell['pattern'],
    level,
    sparsity: level,
    perplexity,
    kl: 0.1,
    top1_agreement: 0.9,
    timings: { total: 1 },
    peak_rss_bytes: null,
    status: 'ok',
  };
}
