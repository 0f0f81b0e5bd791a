// Table 5: the formula search (lib/formula/search) on the paper's model and calibration,
// cached in DIR/formula-search.json with the settings it ran with (--resume reuses it when
// they match).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { SEED_FORMULAS, SearchResult, searchFormula } from '../formula/search/search';
import { writeFileAtomic } from '../report/atomic';
import type { FormulaSearchSummary } from './formula-table';
import type { PaperOptions, PaperSettings } from './plan';

/** What the cached search depends on. */
function searchSettings(o: PaperOptions, s: PaperSettings): Record<string, unknown> {
  return { model: path.resolve(o.model), calib: path.resolve(o.calib), budget: s.budget, seed: s.seed, calib_samples: Math.min(s.calibSamples, 8), seq_len: s.seqLen ?? null };
}

/** The table's view of a search: the best five, the baselines, the failures said as counted. */
export function summarize(r: SearchResult): FormulaSearchSummary {
  const mag = r.baselines.magnitude.kl;
  const wanda = r.baselines.wanda.kl;
  const best = r.best.kl;
  const f = r.failures;
  const verdict =
    best === undefined
      ? 'No formula gave a finite score: the search found nothing usable.'
      : `The best formula's KL is ${best <= (wanda ?? Infinity) ? 'at or below' : 'above'} Wanda's and ${best <= (mag ?? Infinity) ? 'at or below' : 'above'} magnitude's (measured on the same windows)` +
        (SEED_FORMULAS.some((f) => f.formula === r.best.formula)
          ? `; it is one of the known formulas the search starts from (${SEED_FORMULAS.find((f) => f.formula === r.best.formula)!.name}): within this budget the search made nothing better.`
          : '; the search made it.');
  return {
    budget: r.budget,
    seed: r.settings.seed,
    sparsity: r.settings.sparsity,
    evaluated: r.evaluated,
    failures: f.nonFinite + f.errors + f.worseThanMagnitude,
    failureExamples: f.examples.slice(0, 3).map((e) => `${e.formula}: ${e.status === 'ok' ? `KL ${e.kl?.toPrecision(3)}, worse than magnitude` : (e.message ?? e.status)}`),
    best: r.top.filter((t) => t.status === 'ok' && t.kl !== undefined).slice(0, 5).map((t) => ({ formula: t.formula, kl: t.kl! })),
    baselines: [
      { name: 'magnitude', formula: r.baselines.magnitude.formula, kl: mag ?? NaN },
      { name: 'wanda', formula: r.baselines.wanda.formula, kl: wanda ?? NaN },
    ],
    ...(r.bestDiscovered?.kl !== undefined ? { discovered: { formula: r.bestDiscovered.formula, kl: r.bestDiscovered.kl } } : {}),
    verdict: `${verdict} Non-finite: ${f.nonFinite}, errors: ${f.errors}, worse than magnitude: ${f.worseThanMagnitude}.`,
    seconds: r.seconds.total,
  };
}

export async function runFormulaSearch(
  o: PaperOptions,
  s: PaperSettings,
  cache: string,
  progress: (label: string) => void,
): Promise<{ summary?: FormulaSearchSummary; missing?: string }> {
  const settings = searchSettings(o, s);
  if (o.resume && fs.existsSync(cache)) {
    const saved = JSON.parse(fs.readFileSync(cache, 'utf8')) as { settings: unknown; summary: FormulaSearchSummary };
    if (JSON.stringify(saved.settings) === JSON.stringify(settings)) return { summary: saved.summary };
  }
  const r = await searchFormula({
    model: o.model,
    tokenizer: o.tokenizer,
    calib: o.calib,
    budget: s.budget,
    seed: s.seed,
    calibSamples: Math.min(s.calibSamples, 8),
    seqLen: s.seqLen,
    signal: o.signal,
    onProgress: (p) => progress(`table 5: ${p.label}`),
  });
  const summary = summarize(r);
  await writeFileAtomic(cache, `${JSON.stringify({ settings, summary, result: r }, null, 2)}\n`);
  return { summary };
}
