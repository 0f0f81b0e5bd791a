// Optional check against transformers itself: the structurally pruned models shears
// writes are loaded by AutoModelForCausalLM as they are (no missing, unexpected or
// mismatched tensors) and give shears' logits. Needs a Python with torch and
// transformers, named by SHEARS_HF_PYTHON (docs/hf-structured.md says how to make one
// here from local wheels); skipped without it.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ForwardModel } from '../../lib/forward/model';
import { loadModel } from '../../lib/formats/load';
import { writeHF } from '../../lib/formats/write-hf';
import { prune, PruneOptions } from '../../lib/prune/run';
import { randomModel } from '../forward/random-model';
import { rng } from '../support/random';
import { tempDir } from './helpers';
import { addBias, asLoaded, dropBlock, keepChannels, keepKvGroups, Reducible } from './hf-structured-slice';

const PYTHON = process.env.SHEARS_HF_PYTHON;

// Prints {"info": loading info, "logits": [...]} for the token ids in argv[2].
const LOAD = `
import json, sys, torch
from transformers import AutoModelForCausalLM
model, info = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32, output_loading_info=True)
model.eval()
with torch.no_grad():
    logits = model(torch.tensor([json.loads(sys.argv[2])])).logits[0]
info = {k: sorted(str(x) for x in v) for k, v in info.items() if k in ('missing_keys', 'unexpected_keys', 'mismatched_keys')}
print(json.dumps({'info': info, 'logits': logits.flatten().tolist(), 'cls': type(model).__name__}))
`;

function model(spec: Parameters<typeof randomModel>[0]): Reducible {
  const m = randomModel({ hidden: 32, heads: 4, kvHeads: 2, intermediate: 40, layers: 3, ropeLayout: 'rotate_half', ...spec });
  return { config: { ...m.config }, tensors: new Map(m.tensors) };
}

const DEMO = path.resolve(__dirname, '..', '..', 'assets', 'demo-model');
const DEMO_OPT = path.resolve(__dirname, '..', '..', 'assets', 'demo-opt');

/** The demo model (f16, trained) without a KV group, a quarter of its MLP and its last block. */
async function demoPruned(): Promise<Reducible> {
  const demo = await loadModel(DEMO); // mapped views stay valid while the test runs
  return dropBlock(keepChannels(keepKvGroups({ config: { ...demo.config }, tensors: new Map(demo.tensors) }, 1), 384), 3);
}

/** A model pruned by prune() (--uniform, HF output), as read back by shears. */
function pruned(model: string, method: string, structure: PruneOptions['structure'], sparsity: number): () => Promise<Reducible> {
  return async () => {
    const out = path.join(tempDir('shears-hf-transformers-'), `${method}-${structure}`);
    const calib = path.join(DEMO, 'calib.txt');
    await prune({ model, method, structure, sparsity, uniform: true, calib, calibSamples: 16, seqLen: 128, out });
    return loadModel(out);
  };
}

const CASES: [string, () => Reducible | Promise<Reducible>][] = [
  ['demo model (f16): a KV group, 128 MLP channels and the last block removed', demoPruned],
  ['demo model pruned by flap --structure width --uniform 20% (o and down bias compensation)', pruned(DEMO, 'flap', 'width', 0.2)],
  ['demo model pruned by block-influence --structure layers 25%', pruned(DEMO, 'block-influence', 'layers', 0.25)],
  ['OPT demo model pruned by bias --structure channels --uniform 20% (fc2 bias compensation)', pruned(DEMO_OPT, 'bias', 'channels', 0.2)],
  ['llama: a KV group, MLP channels and a block removed', () => dropBlock(keepChannels(keepKvGroups(model({ architecture: 'llama' }), 1), 24), 2)],
  ['llama: o and down biases (attention_bias, mlp_bias)', () => addBias(addBias(keepKvGroups(model({ architecture: 'llama' }), 1), 'blocks.0.attn.o.bias', 32, 1), 'blocks.2.mlp.down.bias', 32, 2)],
  ['llama: 3 of 4 heads, not a divisor of the hidden size (written as mistral)', () => keepKvGroups(model({ architecture: 'llama', kvHeads: 4 }), 3)],
  ['llama with q/k/v biases: 3 of 4 heads (written as qwen2)', () => keepKvGroups(model({ architecture: 'llama', kvHeads: 4, qkvBias: true }), 3)],
  ['qwen2: a KV group removed', () => keepKvGroups(model({ architecture: 'llama', family: 'qwen2', qkvBias: true }), 1)],
  ['qwen2 with an o bias (written as llama)', () => addBias(keepKvGroups(model({ architecture: 'llama', family: 'qwen2', qkvBias: true }), 1), 'blocks.1.attn.o.bias', 32, 3)],
  ['mistral: a KV group and MLP channels removed', () => keepChannels(keepKvGroups(model({ architecture: 'llama', family: 'mistral' }), 1), 16)],
  ['opt: MLP channels and a block removed', () => dropBlock(keepChannels(model({ architecture: 'opt', kvHeads: 4 }), 24), 0)],
  ['gpt2: MLP channels removed', () => keepChannels(model({ architecture: 'gpt2', kvHeads: 4 }), 24)],
];

// eslint-disable-next-line no-console
if (!PYTHON) console.warn('skipping the transformers loading check: set SHEARS_HF_PYTHON to a Python with torch and transformers');

(PYTHON ? describe : describe.skip)('transformers loads the structured HF outputs (SHEARS_HF_PYTHON)', () => {
  const measured: string[] = [];
  // eslint-disable-next-line no-console
  afterAll(() => console.log(measured.join('\n')));
  test.each(CASES)('%s', async (_name, build) => {
    const m = await build();
    const out = path.join(tempDir('shears-hf-transformers-'), 'out');
    await writeHF(asLoaded(m), out, { tokenizer: false });
    const r = rng(9);
    const ids = Array.from({ length: 10 }, () => Math.floor(r() * m.config.vocabSize));
    const res = JSON.parse(execFileSync(PYTHON!, ['-c', LOAD, out, JSON.stringify(ids)], { encoding: 'utf8', maxBuffer: 1 << 26 }));
    expect(res.info).toEqual({ missing_keys: [], unexpected_keys: [], mismatched_keys: [] });
    const f = new ForwardModel(m, { backend: 'cpu' });
    const ours = await f.logits(await f.forward(ids, 1, ids.length));
    const theirs = res.logits as number[];
    expect(theirs.length).toBe(ours.length);
    const scale = Math.max(...Array.from(ours, Math.abs));
    const worst = Math.max(...theirs.map((v, i) => Math.abs(v - ours[i])));
    measured.push(`${_name}: ${res.cls}, max |logit difference| / max |logit| = ${(worst / scale).toExponential(2)}`);
    expect(worst / scale).toBeLessThan(1e-4);
    fs.rmSync(out, { recursive: true, force: true });
  }, 120_000);
});
