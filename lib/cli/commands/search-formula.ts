// `shears search-formula`: genetic programming over the score-formula grammar
// (lib/formula/search/search.ts); prints the best formulas with their calibration KL,
// the baselines', the failures, and the learning curve; --out writes the whole result as
// JSON (atomically). A bad budget or output path is refused before anything is loaded.
import * as fs from 'node:fs';

import { Command } from 'commander';

import { checkOutput, writeAtomically } from '../../formats/atomic';
import type { InputName } from '../../formula/grammar';
import { checkSearchOptions, FormulaRecord, searchFormula, SearchFormulaOptions, SearchResult } from '../../formula/search/search';
import { runWithProgress } from '../calibration-options';
import { backendOption, int, num } from '../parse';

const kl = (r: FormulaRecord) => (r.kl === undefined ? r.status : r.kl.toFixed(5));
const top1 = (r: FormulaRecord) => (r.top1Agreement === undefined ? '' : `  top-1 ${(100 * r.top1Agreement).toFixed(1)}%`);

export function searchSummary(r: SearchResult): string {
  const s = r.settings;
  const lines = [
    `searched ${r.evaluated} formulas (budget ${r.budget}) at ${s.sparsity} sparsity per row, fitness = KL(dense || pruned) on ${s.windows} calibration windows of ${s.seqLen} tokens, seed ${s.seed}, in ${r.seconds.total.toFixed(1)} s (statistics and dense logits ${r.seconds.setup.toFixed(1)} s)`,
    'best formulas (lower KL is better):',
    ...r.top.map((t, i) => `  ${String(i + 1).padStart(2)}. ${kl(t)}${top1(t)}  ${t.formula}${t.generation < 0 ? '  (baseline)' : ` (generation ${t.generation})`}`),
    r.bestDiscovered
      ? `best formula the search made (not a seed): ${kl(r.bestDiscovered)}${top1(r.bestDiscovered)}  ${r.bestDiscovered.formula} (generation ${r.bestDiscovered.generation})`
      : 'the search made no formula that ran without failing (only seeds and baselines did)',
    `baselines: magnitude ${r.baselines.magnitude.formula} ${kl(r.baselines.magnitude)}; wanda ${r.baselines.wanda.formula} ${kl(r.baselines.wanda)}`,
    `failures: ${r.failures.nonFinite} non-finite, ${r.failures.errors} errors, ${r.failures.worseThanMagnitude} worse than magnitude (of ${r.evaluated})`,
    ...r.failures.examples.map((e) => `  ${e.status === 'ok' ? `worse than magnitude, KL ${kl(e)}` : e.status}: ${e.formula}${e.message ? ` (${e.message})` : ''}`),
    `learning curve (best KL after each generation): ${r.generations.map((g) => `${g.generation}:${g.bestKl.toFixed(5)}`).join(' ')}`,
    ...r.notes.map((n) => `note: ${n}`),
    `statistics: ${s.statistics}`,
    `use it: shears prune --method formula --score "${r.best.formula}" ...`,
  ];
  return `${lines.join('\n')}\n`;
}

export function register(program: Command): void {
  program
    .command('search-formula')
    .description('search score formulas for --method formula by genetic programming (fitness: calibration KL of the pruned model)')
    .requiredOption('--model <path>', 'HF directory, .gguf file or llama2.c .bin')
    .option('--tokenizer <file>', 'llama2.c tokenizer (tok*.bin) when not beside the checkpoint')
    .option('--calib <file>', 'calibration text: one query per line, a corpus, or JSONL')
    .option('--calib-tokens <file>', 'calibration token ids (a JSON array)')
    .requiredOption('--budget <n>', 'formulas to evaluate (each prunes the model once and measures its KL)', int('--budget'))
    .option('--sparsity <s>', 'sparsity of every candidate, per row (default 0.5)', num('--sparsity'))
    .option('--seed <n>', 'seed of the windows and the search (default 0)', int('--seed'))
    .option('--population <p>', 'formulas per generation (default 16)', int('--population'))
    .option('--max-depth <d>', 'deepest formula tree, a leaf being 1 (default 6)', int('--max-depth'))
    .option('--calib-samples <k>', 'calibration windows for the statistics and the fitness (default 8)', int('--calib-samples'))
    .option('--seq-len <l>', 'tokens per window (default min(128, context length))', int('--seq-len'))
    .option('--inputs <list>', 'the inputs formulas may read, comma-separated (default W,xnorm,xmean,xvar,rowsum,colsum,hdiag,grad,fisher)')
    .option('--batch <n>', 'calibration sequences per forward call', int('--batch'))
    .addOption(backendOption())
    .option('--out <file>', 'write the result (best, baselines, failures, learning curve, every formula) as JSON')
    .option('--force', 'replace an existing --out')
    .option('--json', 'print the result as one JSON object on stdout')
    .action((opts) => {
      const o: SearchFormulaOptions = { ...opts, inputs: opts.inputs ? (String(opts.inputs).split(',').map((x) => x.trim()) as InputName[]) : undefined };
      checkSearchOptions(o);
      if (opts.out) checkOutput(opts.out, 'file', { force: opts.force, inputPath: opts.model });
      return runWithProgress(async ({ signal, sink }) => {
        const start = Date.now();
        const result = await searchFormula({
          ...o,
          signal,
          onProgress: (p) => sink.update({ fraction: p.evaluated / p.budget, label: p.label, elapsedSeconds: (Date.now() - start) / 1000 }),
        });
        sink.stop();
        if (opts.out)
          await writeAtomically(opts.out, 'file', { force: opts.force, inputPath: opts.model }, async (tmp) => fs.writeFileSync(tmp, `${JSON.stringify(result, null, 1)}\n`));
        process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : searchSummary(result) + (opts.out ? `${opts.out}\n` : ''));
      });
    });
}
