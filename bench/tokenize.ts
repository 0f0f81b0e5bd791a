// Tokenization speed of large texts, side by side in one run: the demo model's HF BPE
// tokenizer with shears' merge step (lib/tokenizer/bpe-merge.ts) against
// @huggingface/tokenizers' own loop on the same text (and whether the ids are the same),
// the llama2.c / GGUF SentencePiece encoder on the same text, and, for scale, the demo
// model's perplexity evaluation of its eval.txt. Texts: the demo's eval.txt, and the
// ../shared corpora when present (first --max-bytes of each).
//   npm run bench:tokenize -- [--json] [--reps N] [--max-bytes N] [--library-max-bytes N]
import * as fs from 'node:fs';
import * as path from 'node:path';

import { perplexity } from '../lib/eval/perplexity';
import { loadModel } from '../lib/formats/load';
import { ForwardModel } from '../lib/forward/model';
import { packageRoot } from '../lib/native/binding';
import { readJsonFile } from '../lib/formats/json-bounds';
import { HFTokenizerAdapter } from '../lib/tokenizer/hf';
import { loadTokenizer } from '../lib/tokenizer/load';
import type { Tokenizer } from '../lib/tokenizer/types';
import { emitReport, machineInfo, median, table } from './machine';

interface Args {
  json: boolean;
  reps: number;
  maxBytes: number;
  libraryMaxBytes: number;
}

const DEMO = path.join(packageRoot(), 'assets', 'demo-model');
const DEMO_TEXT = 'demo eval.txt';
const SHARED = path.resolve(packageRoot(), '..', 'shared', 'data');

function parseArgs(argv: string[]): Args {
  const a: Args = { json: false, reps: 3, maxBytes: 1 << 20, libraryMaxBytes: 300_000 };
  const num = (k: string, v: string | undefined) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${k} needs a positive integer, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--json') a.json = true;
    else if (k === '--reps') a.reps = num(k, argv[++i]);
    else if (k === '--max-bytes') a.maxBytes = num(k, argv[++i]);
    else if (k === '--library-max-bytes') a.libraryMaxBytes = num(k, argv[++i]);
    else throw new Error(`unknown argument ${k} (expected --json, --reps N, --max-bytes N, --library-max-bytes N)`);
  }
  return a;
}

/** Median ms of `reps` runs after one warm-up (reps 0: one timed run), and the last result. */
function timed<T>(reps: number, fn: () => T): { ms: number; value: T } {
  if (reps === 0) {
    const t0 = process.hrtime.bigint();
    const value = fn();
    return { ms: Number(process.hrtime.bigint() - t0) / 1e6, value };
  }
  let value = fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    value = fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return { ms: median(times), value };
}

function sameIds(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const texts: { name: string; text: string }[] = [{ name: DEMO_TEXT, text: fs.readFileSync(path.join(DEMO, 'eval.txt'), 'utf8') }];
  for (const f of ['tinyshakespeare/input.txt', 'wikitext-2/test.txt', 'tinystories/tinystories_val.txt']) {
    const file = path.join(SHARED, 'text', f);
    if (fs.existsSync(file)) texts.push({ name: f, text: fs.readFileSync(file, 'utf8').slice(0, args.maxBytes) });
  }
  const json = readJsonFile(path.join(DEMO, 'tokenizer.json'), 'tokenizer.json');
  const config = readJsonFile(path.join(DEMO, 'tokenizer_config.json'), 'tokenizer_config.json');
  const fast = new HFTokenizerAdapter(json, config, 'tokenizer.json');
  const library = new HFTokenizerAdapter(json, config, 'tokenizer.json', { fastBpe: false });
  const spmFile = path.join(SHARED, 'models', 'stories260K', 'tok512.bin');
  const spm: Tokenizer | undefined = fs.existsSync(spmFile) ? await loadTokenizer({ kind: 'llama2c', path: spmFile }) : undefined;

  const model = await loadModel(DEMO);
  const forward = new ForwardModel(model);
  const rows: Record<string, unknown>[] = [];
  try {
    for (const { name, text } of texts) {
      const bytes = Buffer.byteLength(text);
      const f = timed(args.reps, () => fast.encode(text, { bos: true }));
      // The library's loop grows faster than linearly: once, and only on texts up to --library-max-bytes.
      const lib = bytes <= args.libraryMaxBytes ? timed(0, () => library.encode(text, { bos: true })) : undefined;
      const s = spm ? timed(args.reps, () => spm.encode(text, { bos: true })) : undefined;
      // The demo's own evaluation (what `shears demo` scores), on its own text only.
      let evalMs: number | null = null;
      let windows: number | null = null;
      if (name === DEMO_TEXT) {
        const t0 = process.hrtime.bigint();
        windows = (await perplexity(forward, f.value, { seqLen: model.config.contextLength })).windows;
        evalMs = Number(process.hrtime.bigint() - t0) / 1e6;
      }
      rows.push({
        text: name,
        bytes,
        tokens: f.value.length,
        shears_hf_ms: f.ms,
        library_hf_ms: lib?.ms ?? null,
        speedup: lib ? lib.ms / f.ms : null,
        same_ids: lib ? sameIds(f.value, lib.value) : null,
        shears_hf_mb_per_s: bytes / 1e6 / (f.ms / 1e3),
        spm_llama2c_ms: s?.ms ?? null,
        spm_tokens: s?.value.length ?? null,
        demo_eval_ms: evalMs,
        demo_eval_windows: windows,
      });
    }
  } finally {
    model.close();
  }
  const cell = (v: unknown, digits = 0) => (v === null ? '-' : typeof v === 'number' ? v.toFixed(digits) : String(v));
  const text = table(
    ['text', 'KB', 'tokens', 'shears HF ms', 'library HF ms', 'x faster', 'same ids', 'MB/s', 'llama2.c SPM ms', 'demo eval ms'],
    rows.map((r) => [
      String(r.text),
      cell((r.bytes as number) / 1000),
      String(r.tokens),
      cell(r.shears_hf_ms),
      cell(r.library_hf_ms),
      cell(r.speedup, 1),
      cell(r.same_ids),
      cell(r.shears_hf_mb_per_s, 2),
      cell(r.spm_llama2c_ms),
      cell(r.demo_eval_ms),
    ]),
  );
  emitReport(args.json, text, { benchmark: 'tokenize', machine: machineInfo(), reps: args.reps, rows });
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
