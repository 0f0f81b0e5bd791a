// Shared by the native backward tests: tiny random models as LoadedModels, the
// forward pass's own mean next-token NLL, and central finite differences of it.
import { ForwardModel } from '../../lib/forward/model';
import { blockShapes, withBlockShapes } from '../../lib/model/shapes';
import { LoadedModel, ModelConfig, Tensor } from '../../lib/model/types';
import { randomModel, RandomModelSpec, rng } from '../forward/random-model';

export function loaded(m: { config: ModelConfig; tensors: Map<string, Tensor> }): LoadedModel {
  return { format: 'hf', path: 'random-model', config: m.config, tensors: m.tensors, tokenizer: { kind: 'none' }, meta: {}, close: () => undefined } as unknown as LoadedModel;
}

export function model(spec: RandomModelSpec): LoadedModel {
  return loaded(randomModel(spec));
}

/** Random token ids for batch sequences of seq tokens. */
export function randomTokens(vocab: number, n: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.floor(r() * vocab));
}

/** The forward pass's mean next-token NLL (ForwardModel.forward + nll). */
export async function forwardLoss(m: LoadedModel, tokens: readonly number[], batch: number, seq: number): Promise<number> {
  const fm = new ForwardModel(m);
  const hidden = await fm.forward(tokens, batch, seq);
  const targets = tokens.map((_, i) => (i % seq === seq - 1 ? -1 : tokens[i + 1]));
  return (await fm.nll(hidden, targets)).mean;
}

/** Central difference of forwardLoss in entry `index` of an f32 tensor, step h. */
export async function centralDifference(m: LoadedModel, name: string, index: number, h: number, tokens: readonly number[], batch: number, seq: number): Promise<number> {
  const data = m.tensors.get(name)!.data as Float32Array;
  const w = data[index];
  data[index] = w + h;
  const up = await forwardLoss(m, tokens, batch, seq);
  data[index] = w - h;
  const down = await forwardLoss(m, tokens, batch, seq);
  data[index] = w;
  // The step actually taken (w +- h rounded to float32).
  return (up - down) / (Math.fround(w + h) - Math.fround(w - h));
}

/**
 * Block i without its attention (kvGroups 0) or its MLP (channels 0): the tensors of the
 * removed sublayer and its norm dropped, config.blocks set, as structured pruning leaves them.
 */
export function withoutSublayer(m: LoadedModel, i: number, which: 'attention' | 'mlp'): LoadedModel {
  const c = m.config;
  const shapes = blockShapes(c);
  if (which === 'attention') shapes[i] = { ...shapes[i], numHeads: 0, numKvHeads: 0 };
  else shapes[i] = { ...shapes[i], intermediateSize: 0 };
  const drop = which === 'attention' ? /^(attn_norm|attn\.)/ : /^(mlp_norm|mlp\.)/;
  const tensors = new Map([...m.tensors].filter(([name]) => !(name.startsWith(`blocks.${i}.`) && drop.test(name.slice(`blocks.${i}.`.length)))));
  return loaded({ config: withBlockShapes(c, shapes), tensors });
}
