// A method owns its statistics collectors (its add_batch): whatever its strategy's
// collect() makes is fed every calibration batch of every layer input, in the sequential
// pipeline and in `sweep --stats once`, without the calibration pass knowing the statistic.
import { CalibrationSet } from '../../lib/calibration/sample';
import { loadModel } from '../../lib/formats/load';
import { Collector } from '../../lib/methods/collectors';
import { scoreStrategy } from '../../lib/methods/score-strategy';
import { runPipeline } from '../../lib/prune/pipeline';
import { Strategy } from '../../lib/strategies';
import { gatherDenseStats } from '../../lib/sweep/stats-once';
import { tempDir } from './helpers';
import { SPEC, tinyCalibrated } from './tiny';

/** Per-column maxima of |x|, and the rows seen: a statistic no built-in method gathers. */
class MaxAbs implements Collector {
  readonly max: Float64Array;
  rows = 0;
  constructor(width: number) {
    this.max = new Float64Array(width);
  }
  async add(x: Float32Array, rows: number): Promise<void> {
    const w = this.max.length;
    for (let i = 0; i < rows * w; i++) this.max[i % w] = Math.max(this.max[i % w], Math.abs(x[i]));
    this.rows += rows;
  }
}

/** A score method that reads only its own statistic: |W_ij| * max_t |X_tj|. */
const maxAbsMethod = (seen: MaxAbs[]): Strategy => ({
  ...scoreStrategy('max-abs', ['maxAbs'], 'row', (stats) => {
    const m = stats.maxAbs as MaxAbs | undefined;
    if (!m) throw new TypeError('max-abs needs its maxAbs statistic');
    return { p: 1, q: 1, act: Float32Array.from(m.max) };
  }),
  collect: (width) => {
    const c = new MaxAbs(width);
    seen.push(c);
    return { maxAbs: c };
  },
});

let model: string;
let calibration: () => CalibrationSet;
beforeAll(() => ({ model, calibration } = tinyCalibrated(tempDir())));

test('the pipeline feeds a plugin-made collector every batch, and the method prunes with it', async () => {
  const m = await loadModel(model);
  try {
    const seen: MaxAbs[] = [];
    const r = await runPipeline(m, { strategy: maxAbsMethod(seen), sparsity: 0.5, calibration: calibration() });
    // One collector per distinct layer input of every block (attnIn, oIn, mlpIn, downIn).
    expect(seen).toHaveLength(4 * SPEC.layers);
    for (const c of seen) {
      expect(c.rows).toBe(4 * 16);
      expect(Math.max(...c.max)).toBeGreaterThan(0);
    }
    expect(r.layers.length).toBeGreaterThan(0);
    for (const l of r.layers) expect(l.sparsity).toBeCloseTo(0.5, 2);
  } finally {
    m.close();
  }
});

test('--stats once gathers the same collector beside the shared column statistics', async () => {
  const m = await loadModel(model);
  try {
    const seen: MaxAbs[] = [];
    const stats = await gatherDenseStats(m, calibration(), { methods: [maxAbsMethod(seen)] });
    for (const b of stats.blocks)
      for (const s of b.values()) {
        expect(s.maxAbs).toBeInstanceOf(MaxAbs);
        expect((s.maxAbs as MaxAbs).rows).toBe(s.columns!.count);
      }
  } finally {
    m.close();
  }
});

test("a method's closing notes (what it learned) reach the run's notes", async () => {
  const m = await loadModel(model);
  try {
    const seen: MaxAbs[] = [];
    const strategy: Strategy = { ...maxAbsMethod(seen), notes: () => [`max-abs saw ${seen.length} layer inputs`] };
    const r = await runPipeline(m, { strategy, sparsity: 0.5, calibration: calibration() });
    expect(r.notes).toContain(`max-abs saw ${4 * SPEC.layers} layer inputs`);
  } finally {
    m.close();
  }
});
