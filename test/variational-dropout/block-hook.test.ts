// The pipeline's block-level hook (Strategy.scoreBlock, lib/prune/pipeline.ts
// pruneLearnedBlock) with a recording strategy that scores by magnitude: each block gets
// the dense block's outputs on its inputs as targets, the next block's inputs are the
// pruned block's outputs (sequential, as Wanda/SparseGPT), and the masks come from the
// usual selection at the exact target sparsity (per row, per matrix, N:M, per block).
import { ForwardModel } from '../../lib/forward/model';
import { loadModel } from '../../lib/formats/load';
import { CalibrationSet } from '../../lib/calibration/sample';
import { runPipeline, PruneGranularity } from '../../lib/prune/pipeline';
import { BlockLearningInput, Strategy } from '../../lib/strategies';
import { countZeros, minZerosPerGroup, tempDir, zerosPerRow } from '../prune/helpers';
import { linearNames, SPEC, tinyCalibrated } from '../prune/tiny';

let model: string;
let calibration: () => CalibrationSet;
beforeAll(() => {
  ({ model, calibration } = tinyCalibrated(tempDir()));
});

/** Scores |w| of each selected matrix and keeps a copy of what each block was given. */
function recording() {
  const seen: { block: number; layers: string[]; inputs: Float32Array; targets: Float32Array; sequences: number; seq: number }[] = [];
  const strategy: Strategy = {
    name: 'recording',
    needs: ['blockHidden'],
    defaultGranularity: 'row',
    allowsGlobal: true,
    scoreOptions: () => {
      throw new TypeError('not used');
    },
    prune: () => Promise.reject(new TypeError('the pipeline must call scoreBlock')),
    scoreBlock: async (i: BlockLearningInput) => {
      seen.push({ block: i.block, layers: [...i.layers], inputs: i.inputs.slice(), targets: i.targets.slice(), sequences: i.sequences, seq: i.seq });
      return new Map(i.layers.map((name) => [name, Float32Array.from(i.tensors.get(name)!.data as Float32Array, Math.abs)]));
    },
  };
  return { strategy, seen };
}

const sameBits = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

test('targets are the dense block on its inputs; the next inputs are the pruned block on them', async () => {
  const { strategy, seen } = recording();
  const pruned = await loadModel(model);
  const dense = await loadModel(model);
  try {
    const result = await runPipeline(pruned, { strategy, calibration: calibration(), sparsity: 0.5 });
    expect(seen.map((s) => s.block)).toEqual([0, 1, 2]);
    expect(seen.flatMap((s) => s.layers)).toEqual(linearNames());
    expect(result.layers.map((l) => l.name)).toEqual(linearNames());
    const run = async (m: typeof dense, b: number, x: Float32Array) => {
      const h = x.slice();
      await new ForwardModel(m).runBlock(b, h, { batch: seen[b].sequences, seq: seen[b].seq });
      return h;
    };
    for (const s of seen) {
      expect(sameBits(await run(dense, s.block, s.inputs), s.targets)).toBe(true);
      if (s.block + 1 < seen.length) {
        const next = await run(pruned, s.block, s.inputs);
        expect(sameBits(next, seen[s.block + 1].inputs)).toBe(true);
        // Pruning changed the block: the next inputs are not the dense outputs.
        expect(sameBits(next, s.targets)).toBe(false);
      }
    }
  } finally {
    pruned.close();
    dense.close();
  }
});

test.each<[string, { sparsity?: number; pattern?: { n: number; m: number }; granularity?: PruneGranularity }]>([
  ['per row', { sparsity: 0.5 }],
  ['per matrix', { sparsity: 0.3, granularity: 'matrix' }],
  ['one threshold per block', { sparsity: 0.4, granularity: 'global' }],
  ['2:4', { pattern: { n: 2, m: 4 } }],
])('exact sparsity %s', async (_name, sel) => {
  const m = await loadModel(model);
  try {
    await runPipeline(m, { strategy: recording().strategy, calibration: calibration(), ...sel });
    for (let b = 0; b < SPEC.layers; b++) {
      const ts = linearNames().filter((n) => n.startsWith(`blocks.${b}.`)).map((n) => m.tensors.get(n)!);
      const total = ts.reduce((a, t) => a + t.data.length, 0);
      if (sel.granularity === 'global') expect(ts.reduce((a, t) => a + countZeros(t), 0)).toBe(Math.floor(0.4 * total));
      for (const t of ts) {
        if (sel.pattern) expect(minZerosPerGroup(t, 4)).toBeGreaterThanOrEqual(2);
        else if (sel.granularity === 'matrix') expect(countZeros(t)).toBe(Math.floor(0.3 * t.data.length));
        else if (!sel.granularity) expect(zerosPerRow(t)).toEqual(Array(t.shape[0]).fill(Math.floor(t.shape[1] / 2)));
      }
    }
  } finally {
    m.close();
  }
});

test('a stop while a block is being learned rejects with the reason and prunes nothing after it', async () => {
  const ac = new AbortController();
  const { strategy, seen } = recording();
  const learn = strategy.scoreBlock!;
  strategy.scoreBlock = async (i) => {
    const r = await learn(i);
    ac.abort(new Error('stopped in block learning'));
    return r;
  };
  const m = await loadModel(model);
  try {
    await expect(runPipeline(m, { strategy, calibration: calibration(), sparsity: 0.5, signal: ac.signal })).rejects.toThrow('stopped in block learning');
    expect(seen).toHaveLength(1);
  } finally {
    m.close();
  }
});
