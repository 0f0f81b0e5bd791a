// llama2.c checkpoints (Karpathy's run.c format), float32 only:
//  - legacy: 7 x int32 header (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
//    seq_len), negative vocab_size = separate classifier; weights per kind for all layers
//    (embedding first), then the unused freq_cis tables, then the classifier.
//  - version 1: uint32 magic "ak42", int32 version 1, the same 7 ints, a shared-classifier
//    byte, header padded to 256 bytes; weights: norms first, then embedding, wq..w3.
// Q/K are in the interleaved RoPE layout; theta 10000, rms eps 1e-5; w1 = gate, w3 = up, w2 = down.
import { LoadedModel, ModelConfig } from '../model/types';
import { llama2cTokenizer } from './llama2c-tokenizer';
import { Cursor, MappedFile } from './mapped';
import { checkConfig, makeModel, TensorSet, withFiles } from './model';

const MAGIC_V1 = 0x616b3432;

interface Header {
  version: 0 | 1;
  dim: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  seqLen: number;
  shared: boolean;
  dataStart: number;
}

function readHeader(f: MappedFile): Header {
  const c = new Cursor(f);
  let version: 0 | 1 = 0;
  if (f.size >= 4 && f.view.getUint32(0, true) === MAGIC_V1) {
    c.u32('magic');
    const v = c.i32('version');
    if (v !== 1) f.fail(`llama2.c export version ${v} is not supported (only legacy and version 1 float32 checkpoints)`);
    version = 1;
  }
  const names = ['dim', 'hidden_dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'seq_len'];
  const v = names.map((n) => c.i32(`header ${n}`));
  let [dim, hidden, layers, heads, kvHeads, vocab, seqLen] = v;
  let shared = vocab > 0;
  if (version === 1) {
    shared = c.u8('shared-classifier flag') !== 0;
    if (vocab < 0) f.fail(`header vocab_size ${vocab} is negative in a version 1 checkpoint`);
  }
  vocab = Math.abs(vocab);
  for (let i = 0; i < names.length; i++)
    if (!((names[i] === 'vocab_size' ? Math.abs(v[i]) : v[i]) >= 1 && Math.abs(v[i]) <= 1 << 24))
      f.fail(`header ${names[i]} = ${v[i]} is not a plausible size: not a llama2.c checkpoint, or corrupt`);
  if (dim % heads !== 0 || heads % kvHeads !== 0 || (dim / heads) % 2 !== 0)
    f.fail(`header dim ${dim}, n_heads ${heads}, n_kv_heads ${kvHeads} are inconsistent: not a llama2.c checkpoint, or corrupt`);
  if (kvHeads > heads) f.fail(`header n_kv_heads ${kvHeads} exceeds n_heads ${heads}`);
  return { version, dim, hidden, layers, heads, kvHeads, vocab, seqLen, shared, dataStart: version === 1 ? 256 : 28 };
}

export async function readLlama2c(file: string, opts: { tokenizer?: string } = {}): Promise<LoadedModel> {
  const f: MappedFile = MappedFile.open(file);
  return withFiles([f], () => {
    const h = readHeader(f);
    const headDim = h.dim / h.heads;
    const kvDim = h.kvHeads * headDim;
    const config: ModelConfig = {
      architecture: 'llama',
      family: 'llama',
      hiddenSize: h.dim,
      intermediateSize: h.hidden,
      numLayers: h.layers,
      numHeads: h.heads,
      numKvHeads: h.kvHeads,
      headDim,
      vocabSize: h.vocab,
      contextLength: h.seqLen,
      norm: 'rmsnorm',
      normEps: 1e-5,
      activation: 'silu',
      rope: { layout: 'interleaved', theta: 10000, dim: headDim },
      positionOffset: 0,
      tiedEmbeddings: h.shared,
      preNorm: true,
      bosTokenId: 1,
      eosTokenId: 2,
    };
    checkConfig(file, config);
    const { dim, hidden, layers: L, vocab } = h;
    // [canonical name (per layer: with {i}), shape, repeated per layer]
    const per = (name: string, shape: number[]) => ({ name, shape, perLayer: true });
    const one = (name: string, shape: number[]) => ({ name, shape, perLayer: false });
    const skip = (name: string, n: number) => ({ name, shape: [n], perLayer: false, skip: true });
    const freq = skip('freq_cis tables', h.seqLen * headDim); // real + imag, seq_len * head_size/2 each
    const weights = [
      per('attn.q.weight', [dim, dim]),
      per('attn.k.weight', [kvDim, dim]),
      per('attn.v.weight', [kvDim, dim]),
      per('attn.o.weight', [dim, dim]),
    ];
    const ffn = [per('mlp.gate.weight', [hidden, dim]), per('mlp.down.weight', [dim, hidden]), per('mlp.up.weight', [hidden, dim])];
    const cls = h.shared ? [] : [one('lm_head.weight', [vocab, dim])];
    const layout: { name: string; shape: number[]; perLayer: boolean; skip?: boolean }[] =
      h.version === 0
        ? [
            one('embed.weight', [vocab, dim]),
            per('attn_norm.weight', [dim]),
            ...weights,
            per('mlp_norm.weight', [dim]),
            ...ffn,
            one('final_norm.weight', [dim]),
            freq,
            ...cls,
          ]
        : [
            per('attn_norm.weight', [dim]),
            per('mlp_norm.weight', [dim]),
            one('final_norm.weight', [dim]),
            one('embed.weight', [vocab, dim]),
            ...weights,
            ...ffn,
            ...cls,
          ];
    let floats = 0;
    for (const e of layout) floats += e.shape.reduce((a, b) => a * b, 1) * (e.perLayer ? L : 1);
    const expected = h.dataStart + 4 * floats;
    if (f.size !== expected)
      f.fail(
        `file is ${f.size} bytes but its llama2.c ${h.version === 1 ? 'version 1' : 'legacy'} header ` +
          `(dim ${dim}, hidden ${hidden}, layers ${L}, heads ${h.heads}, kv heads ${h.kvHeads}, vocab ${vocab}, seq_len ${h.seqLen}) ` +
          `implies ${expected}: ${f.size < expected ? 'truncated' : 'trailing data or not a llama2.c checkpoint'}`,
      );
    const set = new TensorSet(file);
    let off = h.dataStart;
    for (const e of layout) {
      const n = e.shape.reduce((a, b) => a * b, 1);
      if (e.skip) {
        off += 4 * n;
        continue;
      }
      for (let i = 0; i < (e.perLayer ? L : 1); i++) {
        const name = e.perLayer ? `blocks.${i}.${e.name}` : e.name;
        set.add(name, 'f32', e.shape.slice(), f.tensorData('f32', off, n, `tensor ${name}`));
        off += 4 * n;
      }
    }
    return makeModel({
      format: 'llama2c',
      path: file,
      config,
      tensors: set.map,
      tokenizer: llama2cTokenizer(file, vocab, opts.tokenizer),
      meta: { llama2cVersion: h.version === 1 ? 1 : 'legacy', sharedClassifier: h.shared, seqLen: h.seqLen },
      files: [f],
    });
  });
}
