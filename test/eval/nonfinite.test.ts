// A model whose weights produce NaN: perplexity is an error naming the first block whose
// output is not finite (not "perplexity NaN" with exit code 0).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { NonFiniteError } from '../../lib/errors';
import { locateNonFinite } from '../../lib/eval/nonfinite';
import { perplexity } from '../../lib/eval/perplexity';
import { loadModel } from '../../lib/formats/load';
import { ForwardModel } from '../../lib/forward/model';
import { buildGGUF, llamaConfig, llamaKVs, llamaTensors, tinyGGUFTensors, TinyLlamaSpec, writeHFDir } from '../formats/fixtures';
import { runCli } from '../support/cli';

const SPEC: TinyLlamaSpec = { hidden: 16, heads: 4, kvHeads: 2, inter: 24, layers: 3, vocab: 32 };
const SEQ = 16;
let dir: string;
let tokensFile: string;
const tokens = Int32Array.from({ length: 4 * SEQ }, (_, i) => (i * 7 + 3) % SPEC.vocab);

/** The tiny Llama with one weight of `tensor` set to `value` (none: the clean model). */
function writeModel(name: string, tensor?: string, value = NaN): string {
  const tensors = llamaTensors(SPEC, 'F32', 5);
  if (tensor) (tensors.find((t) => t.name === tensor)!.data as Float32Array)[3] = value;
  const d = path.join(dir, name);
  writeHFDir(d, llamaConfig(SPEC), tensors);
  return d;
}

async function withModel<T>(d: string, run: (fm: ForwardModel) => Promise<T>): Promise<T> {
  const m = await loadModel(d);
  try {
    return await run(new ForwardModel(m));
  } finally {
    m.close();
  }
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-nonfinite-'));
  tokensFile = path.join(dir, 'tokens.json');
  fs.writeFileSync(tokensFile, JSON.stringify(Array.from(tokens)));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('a clean model evaluates to a finite perplexity, with no error', async () => {
  const r = await withModel(writeModel('clean'), (fm) => perplexity(fm, tokens, { seqLen: SEQ }));
  expect(Number.isFinite(r.perplexity)).toBe(true);
  expect(r.windows).toBe(4);
});

test('NaN in block 1 is an error naming block 1; nonFinite: keep returns the NaN', async () => {
  const d = writeModel('nan-block1', 'model.layers.1.mlp.down_proj.weight');
  await withModel(d, async (fm) => {
    const err = await perplexity(fm, tokens, { seqLen: SEQ }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonFiniteError);
    expect((err as NonFiniteError).code).toBe('E_NONFINITE');
    expect((err as Error).message).toMatch(/^perplexity \(window 0 of 4 has mean NLL NaN\) is NaN: .*output of block 1 \(of 3/);
    const kept = await perplexity(fm, tokens, { seqLen: SEQ, nonFinite: 'keep' });
    expect(kept.perplexity).toBeNaN();
  });
});

test('the locator names the embeddings, the first block, or the head', async () => {
  const at = async (tensor: string, value = NaN) =>
    withModel(writeModel(`site-${tensor}-${value}`, tensor, value), (fm) => locateNonFinite(fm, tokens.subarray(0, SEQ)));
  expect(await at('model.layers.0.self_attn.q_proj.weight')).toEqual({ stage: 'block', block: 0 });
  expect(await at('model.layers.2.mlp.up_proj.weight', Infinity)).toEqual({ stage: 'block', block: 2 });
  expect(await at('lm_head.weight')).toEqual({ stage: 'head' });
  // Weight 3 of the embedding table is in row 0: token 0's embedding.
  expect(await withModel(writeModel('embed', 'model.embed_tokens.weight'), (fm) => locateNonFinite(fm, Int32Array.of(0, 1, 2))))
    .toEqual({ stage: 'embedding' });
  expect(await withModel(writeModel('clean2'), (fm) => locateNonFinite(fm, tokens.subarray(0, SEQ)))).toBeNull();
});

test('shears eval on that model fails with the block named and a non-zero code, promptly', async () => {
  const d = writeModel('cli-nan', 'model.layers.2.self_attn.v_proj.weight');
  const t0 = Date.now();
  const r = await runCli(['eval', '--model', d, '--tokens', tokensFile, '--seq-len', String(SEQ)]);
  expect(Date.now() - t0).toBeLessThan(5000);
  expect(r.code).not.toBe(0);
  expect(r.out).toBe('');
  expect(r.err).toMatch(/^shears: perplexity .* is NaN: non-finite values first appear in the output of block 2 \(of 3/);
});

test('the same for a GGUF (the audit\'s case): shears eval names the block and exits non-zero', async () => {
  const tensors = tinyGGUFTensors(SPEC);
  const down = tensors.find((t) => t.name === 'blk.1.ffn_down.weight')!;
  new Float32Array(down.data.buffer, down.data.byteOffset, down.data.length / 4)[7] = NaN;
  const file = path.join(dir, 'nan.gguf');
  fs.writeFileSync(file, buildGGUF(llamaKVs(SPEC), tensors));
  const t0 = Date.now();
  const r = await runCli(['eval', '--model', file, '--tokens', tokensFile, '--seq-len', String(SEQ)]);
  expect(Date.now() - t0).toBeLessThan(5000);
  expect(r.code).not.toBe(0);
  expect(r.out).toBe('');
  expect(r.err).toMatch(/is NaN: non-finite values first appear in the output of block 1 \(of 3/);
});
