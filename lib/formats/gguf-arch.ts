// Which llama.cpp architecture a model is written as, and the models llama.cpp could not
// run as they are (refused here, before anything is written, naming what is wrong):
//   Llama family, every block with the same widths and both sublayers -> 'llama'
//     ('qwen2' for a Qwen2 model that still fits llama.cpp's qwen2 loader);
//   per-block widths or removed sublayers -> 'deci' (per-layer width arrays);
//   GPT-2 -> 'gpt2' (one width for all blocks, q and o hidden x hidden).
import { NotImplementedError } from '../errors';
import { blockShapes } from '../model/shapes';
import { LoadedModel } from '../model/types';
import { GGUFArch, llamaCppReads } from './gguf-names';

function refuse(model: LoadedModel, why: string): never {
  throw new NotImplementedError(`GGUF output of ${model.path}: ${why}`);
}

function gpt2Checks(model: LoadedModel): void {
  const c = model.config;
  const shapes = blockShapes(c);
  const b0 = shapes[0];
  if (shapes.some((b) => b.numHeads !== b0.numHeads || b.numKvHeads !== b0.numKvHeads || b.intermediateSize !== b0.intermediateSize))
    refuse(model, "llama.cpp's gpt2 architecture takes one MLP width and head count for every block; this model's blocks differ (prune with --uniform, or write HF)");
  if (b0.numHeads === 0 || b0.intermediateSize === 0)
    refuse(model, "llama.cpp's gpt2 architecture needs attention and MLP in every block; this model has removed sublayers");
  if (b0.numHeads * c.headDim !== c.hiddenSize)
    refuse(
      model,
      `llama.cpp's gpt2 architecture needs heads x head dim = hidden size (its q and o are hidden x hidden); this model has ${b0.numHeads} x ${c.headDim} != ${c.hiddenSize} (prune MLP channels only, or write HF)`,
    );
  if (c.activation !== 'gelu_tanh')
    refuse(model, `llama.cpp's gpt2 architecture computes the tanh GELU; this model uses ${c.activation}`);
  if (c.positionOffset !== 0 || !c.preNorm || c.norm !== 'layernorm')
    refuse(model, "llama.cpp's gpt2 architecture is pre-LayerNorm with positions from row 0");
  const pos = model.tensors.get('pos_embed.weight');
  if (!pos || pos.shape[0] !== c.contextLength)
    refuse(model, `llama.cpp's gpt2 architecture needs one position row per context position (${c.contextLength}); pos_embed.weight has ${pos?.shape[0] ?? 'no'} rows`);
}

/** Qwen2 models llama.cpp's qwen2 loader takes: q is hidden x hidden, no o or MLP biases. */
function fitsQwen2(model: LoadedModel): boolean {
  const c = model.config;
  return c.numHeads * c.headDim === c.hiddenSize && [...model.tensors.keys()].every((n) => llamaCppReads('qwen2', n));
}

/** The llama.cpp architecture `model` is written as; throws NotImplementedError when none can run it. */
export function chooseGGUFArch(model: LoadedModel): GGUFArch {
  const c = model.config;
  let arch: GGUFArch;
  if (c.architecture === 'gpt2') {
    gpt2Checks(model);
    arch = 'gpt2';
  } else if (c.architecture === 'llama' && c.rope) {
    if (c.rope.dim !== c.headDim)
      refuse(model, `llama.cpp's llama and deci architectures rotate the whole head; this model rotates ${c.rope.dim} of ${c.headDim} dimensions`);
    const shapes = blockShapes(c);
    const b0 = shapes[0];
    const uniform = shapes.every(
      (b) => b.numHeads === b0.numHeads && b.numKvHeads === b0.numKvHeads && b.intermediateSize === b0.intermediateSize && b.numHeads > 0 && b.intermediateSize > 0,
    );
    arch = !uniform ? 'deci' : c.family === 'qwen2' && fitsQwen2(model) ? 'qwen2' : 'llama';
  } else {
    refuse(model, `llama.cpp has no architecture for ${c.family} (shears writes GGUF for the Llama family and GPT-2; write HF instead)`);
  }
  for (const name of model.tensors.keys())
    if (!llamaCppReads(arch, name))
      refuse(
        model,
        `llama.cpp's ${arch} architecture does not read tensor ${name}${/norm\.bias$/.test(name) ? ' (its norms are RMSNorm, without bias)' : ''}: fold it into another tensor or write HF`,
      );
  return arch;
}
