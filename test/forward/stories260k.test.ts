// A real-model check: Karpathy's stories260K (llama2.c legacy .bin) through the native
// forward pass. The model and tokenizer are read by a minimal test-local reader (the
// real readers live in lib/formats/, another part of shears); the expected values come
// from shared/data/PROVENANCE.md: the first 256 tok512 ids of tinystories_val.txt
// start [1, 301, 427, 309, 426, 301, 427, 309, 394, 265, 262, 415], and their
// perplexity is 4.0381 (mean NLL 1.39577 over 255 predictions).
import * as fs from 'node:fs';
import { ForwardModel, generate } from '../../lib/forward';
import { perplexity } from '../../lib/eval/perplexity';
import { ModelConfig, Tensor } from '../../lib/model/types';
import { describeShared, sharedPath } from '../support/shared-data';

function readLegacyBin(path: string): { config: ModelConfig; tensors: Map<string, Tensor> } {
  const buf = fs.readFileSync(path);
  const hdr = new Int32Array(buf.buffer, buf.byteOffset, 7);
  const [dim, hidden, layers, heads, kvHeads, vocabSigned, seqLen] = Array.from(hdr);
  const vocab = Math.abs(vocabSigned);
  const hd = dim / heads;
  const f = new Float32Array(buf.buffer.slice(buf.byteOffset + 28, buf.byteOffset + buf.length));
  let off = 0;
  const take = (n: number) => f.subarray(off, (off += n));
  const tensors = new Map<string, Tensor>();
  const put = (name: string, shape: number[], data: Float32Array) => tensors.set(name, { name, dtype: 'f32', shape, data });
  const perLayer = (name: string, shape: number[]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    for (let l = 0; l < layers; ++l) put(`blocks.${l}.${name}`, shape, take(n));
  };
  put('embed.weight', [vocab, dim], take(vocab * dim));
  perLayer('attn_norm.weight', [dim]);
  perLayer('attn.q.weight', [heads * hd, dim]);
  perLayer('attn.k.weight', [kvHeads * hd, dim]);
  perLayer('attn.v.weight', [kvHeads * hd, dim]);
  perLayer('attn.o.weight', [dim, heads * hd]);
  perLayer('mlp_norm.weight', [dim]);
  perLayer('mlp.gate.weight', [hidden, dim]); // w1
  perLayer('mlp.down.weight', [dim, hidden]); // w2
  perLayer('mlp.up.weight', [hidden, dim]); // w3
  put('final_norm.weight', [dim], take(dim));
  const config: ModelConfig = {
    architecture: 'llama',
    family: 'llama',
    hiddenSize: dim,
    intermediateSize: hidden,
    numLayers: layers,
    numHeads: heads,
    numKvHeads: kvHeads,
    headDim: hd,
    vocabSize: vocab,
    contextLength: seqLen,
    norm: 'rmsnorm',
    normEps: 1e-5,
    activation: 'silu',
    rope: { layout: 'interleaved', theta: 10000, dim: hd },
    positionOffset: 0,
    tiedEmbeddings: vocabSigned > 0,
    preNorm: true,
    bosTokenId: 1,
    eosTokenId: 2,
  };
  return { config, tensors };
}

// llama2.c's encoder: BOS, a dummy-prefix space, one piece per UTF-8 character (bytes
// + 3 when missing), then merge the adjacent pair with the best score until none is left.
function encode(tokPath: string, text: string): number[] {
  const buf = fs.readFileSync(tokPath);
  const vocab = new Map<string, number>();
  const scores: number[] = [];
  let p = 4;
  for (let id = 0; p < buf.length; ++id) {
    scores.push(buf.readFloatLE(p));
    const len = buf.readInt32LE(p + 4);
    const s = buf.subarray(p + 8, p + 8 + len).toString('latin1');
    if (!vocab.has(s)) vocab.set(s, id);
    p += 8 + len;
  }
  const pieces: string[] = [];
  for (const ch of text) pieces.push(Buffer.from(ch, 'utf8').toString('latin1'));
  const ids: number[] = [vocab.get(' ')!];
  for (const pc of pieces) {
    const id = vocab.get(pc);
    if (id !== undefined) ids.push(id);
    else for (const b of Buffer.from(pc, 'latin1')) ids.push(b + 3);
  }
  const names = new Map<number, string>();
  for (const [s, id] of vocab) if (!names.has(id)) names.set(id, s);
  for (;;) {
    let best = -Infinity;
    let at = -1;
    let bestId = -1;
    for (let i = 0; i + 1 < ids.length; ++i) {
      const id = vocab.get((names.get(ids[i]) ?? '') + (names.get(ids[i + 1]) ?? ''));
      if (id !== undefined && scores[id] > best) {
        best = scores[id];
        at = i;
        bestId = id;
      }
    }
    if (at < 0) break;
    ids.splice(at, 2, bestId);
  }
  return [1, ...ids];
}

describeShared('stories260K through the native forward pass', () => {
  const model = () => new ForwardModel(readLegacyBin(sharedPath('models', 'stories260K', 'stories260K.bin')));
  const ids = () => {
    const text = fs.readFileSync(sharedPath('text', 'tinystories', 'tinystories_val.txt'), 'utf8').slice(0, 3000);
    return encode(sharedPath('models', 'stories260K', 'tok512.bin'), text).slice(0, 256);
  };

  test('perplexity of the first 256 tok512 ids of tinystories_val is 4.0381', async () => {
    const t = ids();
    expect(t.slice(0, 12)).toEqual([1, 301, 427, 309, 426, 301, 427, 309, 394, 265, 262, 415]);
    const r = await perplexity(model(), t, { seqLen: 256 });
    expect(r.windows).toBe(1);
    expect(Math.abs(r.meanNll - 1.39577) / 1.39577).toBeLessThan(2e-4);
    expect(Math.abs(r.perplexity - 4.0381) / 4.0381).toBeLessThan(2e-4);
  });

  test('greedy generation from BOS starts with the story PROVENANCE.md quotes', async () => {
    const m = model();
    const out = await generate(m, [1], 24, { eos: null });
    // Decode with the tokenizer's pieces.
    const buf = fs.readFileSync(sharedPath('models', 'stories260K', 'tok512.bin'));
    const pieces: string[] = [];
    for (let p = 4; p < buf.length; ) {
      const len = buf.readInt32LE(p + 4);
      pieces.push(buf.subarray(p + 8, p + 8 + len).toString('utf8'));
      p += 8 + len;
    }
    const text = out.map((id) => pieces[id]).join('');
    expect(text).toMatch(/^ ?Once upon a time, there was a little girl named Lily\. She loved to play/);
  });
});
