// Llama-3 RoPE scaling through GGUF: written as rope_freqs.weight, read back as parameters.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { parseGGUF } from '../../lib/formats/gguf';
import { loadModel } from '../../lib/formats/load';
import { MappedFile } from '../../lib/formats/mapped';
import { writeGGUF } from '../../lib/formats/write-gguf';
import { writeHF } from '../../lib/formats/write-hf';
import { buildGGUF, ggufLlamaNames, llamaConfig, llamaKVs, llamaTensors, randomData, writeHFDir } from './fixtures';
import { expectSameTensors, tempDir } from './helpers';

// head dim 64 gives 32 frequencies, several of them in the smooth region
const SPEC = { hidden: 128, heads: 2, kvHeads: 1, inter: 32, layers: 1, vocab: 16 };
const THETA = 500000;
const L3 = { factor: 8, low: 1, high: 4, orig: 8192 };

/** Independent reference of the Llama-3 divisors (transformers' formula, written out plainly). */
function refFactors(dim: number): Float32Array {
  const out = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) {
    const invFreq = 1 / THETA ** ((2 * i) / dim);
    const wavelen = (2 * Math.PI) / invFreq;
    let scaled: number;
    if (wavelen > L3.orig / L3.low) scaled = invFreq / L3.factor;
    else if (wavelen < L3.orig / L3.high) scaled = invFreq;
    else {
      const smooth = (L3.orig / wavelen - L3.low) / (L3.high - L3.low);
      scaled = (1 - smooth) * (invFreq / L3.factor) + smooth * invFreq;
    }
    out[i] = invFreq / scaled;
  }
  return out;
}

function ggufWithFreqs(factors: Float32Array): string {
  const tensors = ggufLlamaNames(SPEC).map(([name, shape], i) => {
    const d = randomData('F32', shape.reduce((a, b) => a * b, 1), i);
    return { name, ne: [...shape].reverse(), type: 0, data: new Uint8Array(d.buffer) };
  });
  tensors.push({ name: 'rope_freqs.weight', ne: [factors.length], type: 0, data: new Uint8Array(factors.buffer) });
  const kvs = llamaKVs(SPEC).map((k) => (k.key === 'llama.rope.freq_base' ? { ...k, value: THETA } : k));
  const p = path.join(tempDir(), 'l3.gguf');
  fs.writeFileSync(p, buildGGUF(kvs, tensors));
  return p;
}

describe('Llama-3 RoPE scaling in GGUF', () => {
  test('rope_freqs.weight from llama.cpp is read back as the parameters that produced it', async () => {
    const ref = refFactors(64);
    expect(ref.some((f) => f > 1 && f < 8)).toBe(true); // the fixture exercises the smooth region
    const m = await loadModel(ggufWithFreqs(ref));
    const s = m.config.rope!.scaling!;
    expect(s.type).toBe('llama3');
    expect(s.factor).toBe(8);
    expect(s.originalContextLength).toBe(8192);
    expect(s.lowFreqFactor).toBeCloseTo(1, 4);
    expect(s.highFreqFactor).toBeCloseTo(4, 4);
    expect(m.tensors.has('rope_freqs.weight')).toBe(false);
    m.close();
  });

  test('rope_freqs.weight that is not Llama-3 scaling is a FormatError', async () => {
    const bad = refFactors(64);
    bad[3] = 0.5;
    const p = ggufWithFreqs(bad);
    await expect(loadModel(p)).rejects.toMatchObject({ code: 'E_FORMAT', file: p, message: expect.stringContaining('rope_freqs') });
    const odd = refFactors(64);
    odd.reverse();
    const q = ggufWithFreqs(odd);
    await expect(loadModel(q)).rejects.toMatchObject({ code: 'E_FORMAT', file: q });
  });

  test('HF with rope_scaling -> GGUF writes the divisors -> HF keeps the parameters', async () => {
    const root = tempDir();
    const cfg = llamaConfig(SPEC, {
      rope_theta: THETA,
      rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
    });
    writeHFDir(path.join(root, 'a'), cfg, llamaTensors(SPEC, 'F32'));
    const a = await loadModel(path.join(root, 'a'));
    await writeGGUF(a, path.join(root, 'b.gguf'));
    const f = MappedFile.open(path.join(root, 'b.gguf'));
    const info = parseGGUF(f).tensors.find((t) => t.name === 'rope_freqs.weight')!;
    const written = new Float32Array(f.bytes.slice(info.offset, info.offset + info.nbytes).buffer);
    const ref = refFactors(64);
    written.forEach((v, i) => expect(v).toBeCloseTo(ref[i], 5));
    f.close();
    const b = await loadModel(path.join(root, 'b.gguf'));
    const s = b.config.rope!.scaling!;
    expect(s.factor).toBe(8);
    expect(s.originalContextLength).toBe(8192);
    expect(s.lowFreqFactor).toBeCloseTo(1, 4);
    expect(s.highFreqFactor).toBeCloseTo(4, 4);
    await writeHF(b, path.join(root, 'c'));
    const c = await loadModel(path.join(root, 'c'));
    expect(c.config.rope!.scaling!.factor).toBe(8);
    expectSameTensors(a, c);
    for (const m of [a, b, c]) m.close();
  });
});
