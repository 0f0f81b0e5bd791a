// The embedded demo model (3.4M parameters, 256/512-wide layers): Wanda masks from each
// importance file form equal those from the statistics in memory on every weight. The
// imatrix forms hold float32 sums (and the legacy one means), so this checks that their
// rounding does not move the per-row threshold on real activations.
import * as path from 'node:path';

import { loadModel } from '../../lib/formats/load';
import { drawCalibration } from '../../lib/prune/calibrate';
import { prune } from '../../lib/prune/run';
import { stats } from '../../lib/stats/run';
import { tempDir } from '../prune/helpers';
import { inMemoryWanda, masksOf, withModel } from './helpers';

const model = path.join(__dirname, '../../assets/demo-model');
const calib = { calib: path.join(model, 'calib.txt'), calibSamples: 16, seqLen: 128 };

test('demo model: the same Wanda masks (2,359,296 weights) from a shears file, a legacy imatrix and a GGUF imatrix as from memory', async () => {
  const dir = tempDir('shears-stats-demo-');
  const m = await loadModel(model);
  const cal = await drawCalibration(m, calib).finally(() => m.close());
  const memory = await inMemoryWanda(model, cal.set);
  for (const name of ['demo.safetensors', 'demo.dat', 'demo.gguf']) {
    const file = path.join(dir, name);
    await stats({ model, ...calib, out: file });
    const out = path.join(dir, `pruned-${name.replace('.', '-')}`);
    await prune({ model, method: 'wanda', sparsity: 0.5, stats: file, out });
    const masks = await withModel(out, masksOf);
    let differ = 0;
    let total = 0;
    for (const [n, a] of memory.masks) {
      const b = masks.get(n)!;
      total += a.length;
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differ++;
    }
    expect(`${name}: ${differ} of ${total} differ`).toBe(`${name}: 0 of 2359296 differ`);
  }
});
