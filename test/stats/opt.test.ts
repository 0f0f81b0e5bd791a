// An OPT model (assets/demo-opt: biases, fc1/fc2): llama.cpp has no OPT architecture, so
// its imatrix uses GPT-2's names (one fused blk.N.attn_qkv.weight entry for q, k and v,
// attn_output, ffn_up = fc1, ffn_down = fc2), with a warning; read back, every form gives
// the Wanda masks of the statistics in memory.
import * as path from 'node:path';

import { loadModel } from '../../lib/formats/load';
import { readImatrixGGUF } from '../../lib/formats/imatrix-gguf';
import { drawCalibration } from '../../lib/prune/calibrate';
import { prune } from '../../lib/prune/run';
import { stats } from '../../lib/stats/run';
import { tempDir } from '../prune/helpers';
import { inMemoryWanda, masksOf, withModel } from './helpers';

const model = path.join(__dirname, '../../assets/demo-opt');
const calib = { calib: path.join(__dirname, '../../assets/demo-model/calib.txt'), calibSamples: 8, seqLen: 64 };

test('OPT: GPT-2 tensor names in the imatrix (warned), and the same Wanda masks from every form as in memory', async () => {
  const dir = tempDir('shears-stats-opt-');
  const m = await loadModel(model);
  const cal = await drawCalibration(m, calib).finally(() => m.close());
  const memory = await inMemoryWanda(model, cal.set);
  for (const name of ['opt.gguf', 'opt.dat', 'opt.safetensors']) {
    const file = path.join(dir, name);
    const warnings: string[] = [];
    const r = await stats({ model, ...calib, out: file, onWarning: (w) => warnings.push(w) });
    expect(r.layers).toBe(24);
    if (name.endsWith('.gguf')) {
      expect(warnings.join('\n')).toContain("llama.cpp has no OPT architecture: the imatrix uses GPT-2's tensor names");
      const g = readImatrixGGUF(file);
      try {
        expect(g.entries.filter((e) => e.name.startsWith('blk.0.')).map((e) => `${e.name} ${e.columns}`)).toEqual([
          'blk.0.attn_output.weight 256',
          'blk.0.attn_qkv.weight 256',
          'blk.0.ffn_down.weight 1024',
          'blk.0.ffn_up.weight 256',
        ]);
        expect(g.entries.length).toBe(16);
      } finally {
        g.close();
      }
    }
    const out = path.join(dir, `pruned-${name.replace('.', '-')}`);
    await prune({ model, method: 'wanda', sparsity: 0.5, stats: file, out });
    const masks = await withModel(out, masksOf);
    for (const [n, a] of memory.masks) expect(`${name} ${n} ${masks.get(n) === a}`).toBe(`${name} ${n} true`);
  }
});
