// The native next-token sampler (native/cpu/sample_token.cc) against a plain float64
// reference, and sampled generation: greedy unchanged, determinism for a seed, the
// limits temperature -> 0 and top-k 1, typed errors on bad options and logits.
import { argmaxRows, ForwardModel, generate } from '../../lib/forward';
import { checkSampling, TokenSampler } from '../../lib/forward/sampling';
import { evalNative } from '../../lib/native/eval';
import { randomModel, rng } from '../forward/random-model';

/** The sampler's definition, written plainly: candidates in index order, float64 weights. */
function refSample(z: Float32Array, temperature: number, topK: number, u: number): number {
  let best = 0;
  for (let j = 1; j < z.length; j++) if (z[j] > z[best]) best = j;
  if (temperature === 0 || topK === 1) return best;
  let idx = Array.from(z, (_, j) => j);
  if (topK > 0 && topK < z.length) idx = idx.sort((a, b) => z[b] - z[a] || a - b).slice(0, topK).sort((a, b) => a - b);
  const w = idx.map((j) => Math.exp((z[j] - z[best]) / temperature));
  const total = w.reduce((a, b) => a + b, 0);
  let run = 0;
  for (let i = 0; i < idx.length; i++) {
    run += w[i];
    if (run > u * total && w[i] > 0) return idx[i];
  }
  return idx[idx.length - 1];
}

function randomLogits(rows: number, vocab: number, seed: number, scale = 3): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: rows * vocab }, () => (r() * 2 - 1) * scale);
}

async function nativeSample(z: Float32Array, rows: number, vocab: number, temperature: number, topK: number, u: Float64Array): Promise<Int32Array> {
  const out = new Int32Array(rows);
  await evalNative().sampleTokens(z, rows, vocab, { temperature, topK }, u, out);
  return out;
}

test.each([
  [1, 0],
  [0.7, 0],
  [1.5, 5],
  [0.3, 40],
  [2, 1000],
])('the native sampler draws the reference token for every row (temperature %p, top-k %p)', async (temperature, topK) => {
  const rows = 64;
  const V = 97;
  const z = randomLogits(rows, V, 11 + topK);
  const r = rng(5);
  const u = Float64Array.from({ length: rows }, () => r());
  const got = await nativeSample(z, rows, V, temperature, topK, u);
  const want = Array.from({ length: rows }, (_, i) => refSample(z.subarray(i * V, (i + 1) * V), temperature, topK, u[i]));
  expect(Array.from(got)).toEqual(want);
  // The draws spread over several tokens: the test is not only checking argmaxes.
  expect(new Set(want).size).toBeGreaterThan(5);
});

test('u sweeps the candidates in index order with their probabilities', async () => {
  // softmax([0, log 3]) = [1/4, 3/4]: u < 1/4 draws token 0, else token 1.
  const z = Float32Array.from([0, Math.log(3)]);
  const us = [0, 0.2, 0.2499, 0.2501, 0.9, 0.999999];
  const got = await Promise.all(us.map((u) => nativeSample(z, 1, 2, 1, 0, Float64Array.of(u))));
  expect(got.map((a) => a[0])).toEqual([0, 0, 0, 1, 1, 1]);
  // Top-k 1 of [5, 9, 9, 1] is the first 9 (lower index on ties), whatever u.
  expect((await nativeSample(Float32Array.of(5, 9, 9, 1), 1, 4, 1, 1, Float64Array.of(0.99)))[0]).toBe(1);
  // Top-k 2 keeps both 9s and never draws the others.
  for (const u of [0, 0.3, 0.6, 0.99]) expect([1, 2]).toContain((await nativeSample(Float32Array.of(5, 9, 9, 1), 1, 4, 1, 2, Float64Array.of(u)))[0]);
});

test('greedy, top-k 1 and a temperature near 0 all give the argmax', async () => {
  const rows = 32;
  const V = 200;
  const z = randomLogits(rows, V, 3);
  const argmax = Array.from(await argmaxRows(z, V));
  const u = Float64Array.from({ length: rows }, (_, i) => (i + 0.5) / rows);
  expect(Array.from(await nativeSample(z, rows, V, 0, 0, u))).toEqual(argmax);
  expect(Array.from(await nativeSample(z, rows, V, 1.3, 1, u))).toEqual(argmax);
  expect(Array.from(await nativeSample(z, rows, V, 1e-6, 0, u))).toEqual(argmax);
  expect(Array.from(await nativeSample(z, rows, V, 1e-6, 7, u))).toEqual(argmax);
});

test('bad options and non-finite logits are typed errors', async () => {
  const z = randomLogits(1, 8, 1);
  const u = Float64Array.of(0.5);
  await expect(nativeSample(z, 1, 8, -1, 0, u)).rejects.toMatchObject({ code: 'E_RANGE' });
  await expect(nativeSample(z, 1, 8, NaN, 0, u)).rejects.toMatchObject({ code: 'E_RANGE' });
  await expect(nativeSample(z, 1, 8, 1, 0, Float64Array.of(1))).rejects.toMatchObject({ code: 'E_RANGE' });
  await expect(nativeSample(z, 2, 8, 1, 0, u)).rejects.toMatchObject({ code: 'E_SHAPE' });
  const bad = z.slice();
  bad[3] = NaN;
  await expect(new TokenSampler({ temperature: 1 }).next(bad, 8)).rejects.toMatchObject({ code: 'E_NONFINITE', message: expect.stringMatching(/token 3/) });
  await expect(new TokenSampler({ temperature: 1 }).next(Float32Array.from({ length: 8 }, () => -Infinity), 8)).rejects.toMatchObject({ code: 'E_NONFINITE' });
  expect(() => checkSampling({ temperature: -0.5 })).toThrow(/--temperature/);
  expect(() => checkSampling({ topK: 1.5 })).toThrow(/--top-k/);
  expect(() => checkSampling({ seed: -1 })).toThrow(/--seed/);
});

describe('sampled generation', () => {
  const fm = new ForwardModel(randomModel({ architecture: 'llama', heads: 4, kvHeads: 2, vocab: 64, seed: 41 }));
  const prompt = [1, 5, 9];

  test('greedy is what it always was; top-k 1 and temperature -> 0 equal it', async () => {
    const greedy = await generate(fm, prompt, 12, { eos: null });
    expect(await generate(fm, prompt, 12, { eos: null, temperature: 0, seed: 9 })).toEqual(greedy);
    expect(await generate(fm, prompt, 12, { eos: null, temperature: 1, topK: 1, seed: 9 })).toEqual(greedy);
    expect(await generate(fm, prompt, 12, { eos: null, temperature: 1e-7, seed: 9 })).toEqual(greedy);
  });

  test('the same seed gives the same tokens, with or without the KV cache; another seed others', async () => {
    const o = { eos: null, temperature: 1.5, topK: 0, seed: 123 };
    const a = await generate(fm, prompt, 16, o);
    expect(await generate(fm, prompt, 16, o)).toEqual(a);
    expect(await generate(fm, prompt, 16, { ...o, cache: false })).toEqual(a);
    expect(await generate(fm, prompt, 16, { ...o, seed: 124 })).not.toEqual(a);
    expect(await generate(fm, prompt, 16, { eos: null })).not.toEqual(a);
  });

  test('an aborted signal stops generation', async () => {
    const ac = new AbortController();
    ac.abort(new Error('stop here'));
    await expect(generate(fm, prompt, 4, { signal: ac.signal })).rejects.toThrow('stop here');
  });
});
