// `shears info --model PATH`: what a model file or directory holds.
import { Command } from 'commander';

import { loadModel } from '../../formats/load';
import { ModelSummary, summarizeModel } from '../../formats/summary';

const counts = (o: Record<string, number | undefined>) =>
  Object.entries(o)
    .map(([d, n]) => `${d}: ${n}`)
    .join(', ');

/** Per-block widths as a compact table (0 shows as "removed"). */
function blockTable(blocks: NonNullable<ModelSummary['blocks']>): string {
  const cell = (n: number) => (n === 0 ? 'removed' : String(n));
  const rows = [['block', 'heads', 'kv heads', 'MLP width'], ...blocks.map((b) => [String(b.block), cell(b.heads), cell(b.heads === 0 ? 0 : b.kvHeads), cell(b.intermediate)])];
  const widths = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
  return rows.map((r) => `  ${r.map((v, j) => v.padStart(widths[j])).join('  ')}\n`).join('');
}

export async function runInfo(opts: { model: string; tokenizer?: string; json?: boolean }, out: (s: string) => void): Promise<void> {
  const m = await loadModel(opts.model, { tokenizer: opts.tokenizer });
  try {
    const s = summarizeModel(m);
    if (opts.json) {
      out(`${JSON.stringify(s)}\n`);
      return;
    }
    const rows: [string, unknown][] = [
      ['path', s.path],
      ['format', s.sourceVersion ? `${s.format} (${s.sourceVersion})` : s.format],
      ['architecture', `${s.architecture} (family ${s.family}${s.ggufArchitecture ? `, GGUF ${s.ggufArchitecture}` : ''})`],
      ['parameters', s.parameters.toLocaleString('en-US')],
      ['layers', s.layers],
      ['hidden size', s.hidden],
      ['intermediate size', s.blocks ? `per block (largest ${s.intermediate})` : s.intermediate],
      ['heads / kv heads', s.blocks ? `per block (head dim ${s.headDim})` : `${s.heads} / ${s.kvHeads} (head dim ${s.headDim})`],
      ['vocabulary', s.vocab],
      ['context length', s.contextLength],
      ['norm / activation', `${s.norm} / ${s.activation}`],
      ['positions', s.ropeLayout ? `rope, ${s.ropeLayout} layout, theta ${s.ropeTheta}${s.ropeScaling ? `, ${s.ropeScaling}` : ''}` : s.positions],
      ['tied embeddings', s.tiedEmbeddings ? 'yes' : 'no'],
      ['tensors', `${s.tensors} (${counts(s.dtypes)}${s.storedTypes ? `; stored as ${counts(s.storedTypes)}` : ''})`],
      ['tokenizer', s.tokenizerDetail ? `${s.tokenizer} (${s.tokenizerDetail})` : s.tokenizer],
    ];
    for (const [k, v] of rows) out(`${k.padEnd(18)} ${String(v)}\n`);
    if (s.blocks) out(`per-block widths:\n${blockTable(s.blocks)}`);
  } finally {
    m.close();
  }
}

export function register(program: Command): void {
  program
    .command('info')
    .description('show the format, architecture, size and tokenizer of a model')
    .requiredOption('--model <path>', 'model: HF directory, .gguf file or llama2.c .bin')
    .option('--tokenizer <file>', 'llama2.c tokenizer (tokenizer.bin) for a .bin checkpoint')
    .option('--json', 'print JSON')
    .action((opts: { model: string; tokenizer?: string; json?: boolean }) => runInfo(opts, (s) => process.stdout.write(s)));
}
