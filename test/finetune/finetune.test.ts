// finetune() on a tiny Wanda-pruned Llama: the training loss goes down, every pruned
// weight stays exactly zero (the report's per-matrix checksums and a direct read-back),
// checkpoints are complete models, other dtypes keep the mask, and a dense model works
// with a warning.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { finetune, FinetuneProgress, FinetuneReport } from '../../lib/finetune';
import { loadModel } from '../../lib/formats/load';
import { tempLeftovers } from '../prune/helpers';
import { directMaskCheck, readJson, TinySetup, tinyFinetune, tinySetup } from './tiny-setup';

let s: TinySetup;
beforeAll(async () => {
  s = await tinySetup();
}, 60_000);

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('finetune', () => {
  it('lowers the training loss and keeps every pruned weight exactly zero', async () => {
    const out = path.join(s.dir, 'tuned');
    const events: FinetuneProgress[] = [];
    const steps: number[] = [];
    const report = await finetune(tinyFinetune(s, out, { steps: 30, onProgress: (p) => events.push(p), onStep: (k) => steps.push(k) }));
    expect(report.losses).toHaveLength(30);
    // the same 16 sequences seen about 4 times: the loss over the last epoch is well below the first
    expect(mean(report.losses.slice(-8))).toBeLessThan(mean(report.losses.slice(0, 8)) - 0.05);
    expect(steps).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(events.filter((e) => e.stage === 'train').map((e) => e.done)).toEqual(steps);
    expect(events[events.length - 1].stage).toBe('done');
    // the report's proof
    expect(report.mask.preserved).toBe(true);
    expect(report.mask.matrices).toHaveLength(21);
    for (const m of report.mask.matrices) {
      expect(m.zeros_after).toBe(m.zeros_before);
      expect(m.checksum_after).toBe(m.checksum_before);
      expect(m.pruned_nonzero_after).toBe(0);
    }
    const onDisk = readJson<FinetuneReport>(path.join(out, 'finetune-report.json'));
    expect(onDisk.losses).toEqual(report.losses);
    expect(onDisk.mask).toEqual(report.mask);
    // and read back directly from the files
    const direct = await directMaskCheck(s.pruned, out);
    expect(direct.pruned).toBe(report.mask.pruned_weights);
    expect(direct.pruned).toBeGreaterThan(0);
    expect(report.trained.held_at_zero).toBe(direct.pruned);
    expect(direct.changed).toBeGreaterThan(0.9 * (report.mask.matrices.reduce((a, m) => a + m.shape[0] * m.shape[1], 0) - direct.pruned));
    expect(tempLeftovers(s.dir)).toEqual([]);
  });

  it('writes checkpoints every --save-every steps, each a complete model with its report', async () => {
    const out = path.join(s.dir, 'ckpt');
    const report = await finetune(tinyFinetune(s, out, { steps: 7, saveEvery: 3 }));
    const c3 = `${out}-step-000003`;
    const c6 = `${out}-step-000006`;
    expect(report.checkpoints.map((c) => c.path)).toEqual([c3, c6]);
    const r3 = readJson<FinetuneReport>(path.join(c3, 'finetune-report.json'));
    expect(r3.optimizer.steps).toBe(3);
    expect(r3.losses).toEqual(report.losses.slice(0, 3));
    expect(r3.mask.preserved).toBe(true);
    expect((await directMaskCheck(s.pruned, c6)).pruned).toBe(report.mask.pruned_weights);
  });

  it('the same seed gives the same model', async () => {
    const a = await finetune(tinyFinetune(s, path.join(s.dir, 'same-a'), { steps: 4 }));
    const b = await finetune(tinyFinetune(s, path.join(s.dir, 'same-b'), { steps: 4 }));
    expect(b.losses).toEqual(a.losses);
    const x = fs.readFileSync(path.join(s.dir, 'same-a', 'model.safetensors'));
    const y = fs.readFileSync(path.join(s.dir, 'same-b', 'model.safetensors'));
    expect(x.equals(y)).toBe(true);
  });

  it.each(['f16', 'bf16'] as const)('--dtype %s keeps the mask (a kept weight never rounds to zero)', async (dtype) => {
    const out = path.join(s.dir, `tuned-${dtype}`);
    const report = await finetune(tinyFinetune(s, out, { steps: 3, dtype }));
    expect(report.mask.preserved).toBe(true);
    expect(report.output.dtype).toBe(dtype);
    const m = await loadModel(out);
    try {
      expect(m.tensors.get('blocks.0.attn.q.weight')!.dtype).toBe(dtype);
    } finally {
      m.close();
    }
    expect((await directMaskCheck(s.pruned, out)).pruned).toBe(report.mask.pruned_weights);
  });

  it('a model with no pruned weights trains every weight and says so', async () => {
    const warnings: string[] = [];
    const report = await finetune(tinyFinetune(s, path.join(s.dir, 'dense-tuned'), { model: s.dense, steps: 2, onWarning: (w) => warnings.push(w) }));
    expect(warnings.some((w) => w.includes('has no pruned weights'))).toBe(true);
    expect(report.notes.some((w) => w.includes('has no pruned weights'))).toBe(true);
    expect(report.mask.pruned_weights).toBe(0);
    expect(report.mask.preserved).toBe(true);
  });
});
