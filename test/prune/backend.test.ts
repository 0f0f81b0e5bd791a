// --backend auto|cpu|cuda: how a request resolves (with the installation's facts given,
// so that the CUDA branch is checked on any machine), and what prune, sweep and eval do
// with it on this one: auto and cpu give the same bytes when no device answers, and
// cuda without a device is a typed BackendError, thrown before any work (non-zero exit).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { installedBackends, planBackend } from '../../lib/backend';
import { BackendError } from '../../lib/errors';
import { loadModel } from '../../lib/formats/load';
import { ForwardModel } from '../../lib/forward/model';
import { HessianAccumulator } from '../../lib/methods/hessian';
import { asMatrix } from '../../lib/prune/pipeline';
import { selectLayers } from '../../lib/prune/layers';
import { createCollectors } from '../../lib/prune/statistics';
import { sparsegpt, wanda } from '../../lib/strategies';
import { prune, PruneOptions } from '../../lib/prune/run';
import { runCli } from '../support/cli';
import { tempDir, tempLeftovers } from './helpers';
import { tinyPrune, writeCalibTokens, writeTinyModel } from './tiny';

const NO_DEVICE = { cudaAvailable: false, cudaStatus: 'no CUDA build is present' };
const DEVICE = { cudaAvailable: true, cudaStatus: 'NVIDIA H200 (sm_90)' };
const onThisMachine = installedBackends();

let dir: string;
let model: string;
let calib: string;
beforeAll(() => {
  dir = tempDir();
  model = writeTinyModel(path.join(dir, 'tiny'));
  calib = writeCalibTokens(path.join(dir, 'calib.json'));
});

const run = (out: string, extra: Partial<PruneOptions> = {}): PruneOptions => tinyPrune(model, calib, out, { method: 'sparsegpt', ...extra });

describe('planBackend', () => {
  test('auto is CUDA when a device answers, else the CPU with the reason', () => {
    expect(planBackend('auto', DEVICE)).toEqual({ requested: 'auto', device: 'cuda', note: 'CUDA: NVIDIA H200 (sm_90)' });
    expect(planBackend(undefined, NO_DEVICE)).toEqual({ requested: 'auto', device: 'cpu', note: 'CPU: no CUDA build is present' });
  });

  test('cpu is the CPU even with a device; cuda is CUDA with one', () => {
    expect(planBackend('cpu', DEVICE).device).toBe('cpu');
    expect(planBackend('cuda', DEVICE).device).toBe('cuda');
  });

  test('cuda without a device is a BackendError naming why; an unknown name is a RangeError', () => {
    expect(() => planBackend('cuda', NO_DEVICE)).toThrow(BackendError);
    expect(() => planBackend('cuda', NO_DEVICE)).toThrow(/--backend cuda: no CUDA device is available \(no CUDA build is present\)/);
    expect(() => planBackend('gpu', NO_DEVICE)).toThrow(/backend must be auto, cpu or cuda, got 'gpu'/);
  });
});

test('shears backends says what --backend auto uses here', async () => {
  const r = await runCli(['backends', '--json']);
  expect(r.code).toBe(0);
  const info = JSON.parse(r.out);
  expect([info.auto, info.autoNote]).toEqual([planBackend('auto').device, planBackend('auto').note]);
  expect(info.auto).toBe(onThisMachine.cudaAvailable ? 'cuda' : 'cpu');
});

// The rest needs a machine without a CUDA device (the test machines): with one, auto is cuda.
const noDevice = onThisMachine.cudaAvailable ? test.skip : test;

describe('prune --backend on a machine without a CUDA device', () => {
  noDevice('auto and cpu write the same model bytes, and the report says which device ran', async () => {
    const outs = { auto: path.join(tempDir(), 'auto'), cpu: path.join(tempDir(), 'cpu') };
    const auto = await prune(run(outs.auto));
    const cpu = await prune(run(outs.cpu, { backend: 'cpu' }));
    expect(auto.backend).toEqual({ requested: 'auto', device: 'cpu', note: `CPU: ${onThisMachine.cudaStatus}` });
    expect(cpu.backend).toEqual({ requested: 'cpu', device: 'cpu', note: 'CPU as requested' });
    const weights = (d: string) => fs.readFileSync(path.join(d, 'model.safetensors'));
    expect(weights(outs.auto).equals(weights(outs.cpu))).toBe(true);
    expect(auto.layers).toEqual(cpu.layers);
  });

  noDevice('prune --backend cuda: BackendError before loading, exit 1, nothing written', async () => {
    const out = path.join(tempDir(), 'cuda');
    await expect(prune(run(out, { backend: 'cuda' }))).rejects.toThrow(BackendError);
    const r = await runCli(['prune', '--model', model, '--method', 'wanda', '--sparsity', '0.5', '--calib-tokens', calib, '--seq-len', '16', '--out', out, '--backend', 'cuda']);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/--backend cuda: no CUDA device is available/);
    expect(fs.existsSync(out)).toBe(false);
    expect(tempLeftovers(path.dirname(out))).toEqual([]);
  });

  noDevice('sweep and eval --backend cuda: the same typed error; eval --backend cpu and auto agree', async () => {
    const evalFile = path.join(dir, 'eval.json');
    fs.writeFileSync(evalFile, fs.readFileSync(calib));
    const sweep = await runCli(['sweep', '--model', model, '--methods', 'magnitude', '--levels', '0.5', '--eval-tokens', evalFile, '--out', path.join(tempDir(), 's'), '--backend', 'cuda']);
    expect(sweep.code).not.toBe(0);
    expect(sweep.err).toMatch(/--backend cuda: no CUDA device is available/);
    const ok = await runCli(['sweep', '--model', model, '--methods', 'magnitude', '--levels', '0.5', '--eval-tokens', evalFile, '--eval-seq-len', '16', '--out', path.join(tempDir(), 's'), '--json']);
    const results = JSON.parse(ok.out);
    expect(results.settings.backend).toEqual({ requested: 'auto', device: 'cpu', note: `CPU: ${onThisMachine.cudaStatus}` });
    expect(results.cells.map((c: { backend: string }) => c.backend)).toEqual(['cpu']);
    const ev = (b: string) => runCli(['eval', '--model', model, '--tokens', evalFile, '--seq-len', '16', '--json', '--backend', b]);
    const bad = await ev('cuda');
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/--backend cuda: no CUDA device is available/);
    const [a, c] = [JSON.parse((await ev('auto')).out), JSON.parse((await ev('cpu')).out)];
    expect(a.perplexity).toBe(c.perplexity);
    expect([a.backend.device, c.backend.device]).toEqual(['cpu', 'cpu']);
  });

  test('--backend takes only auto, cpu or cuda', async () => {
    const r = await runCli(['eval', '--model', model, '--tokens', calib, '--backend', 'gpu']);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/--backend.*'gpu'.*(auto|cpu|cuda)/);
  });
});

describe('the device reaches every native call of a run', () => {
  // On a machine without a device the native code rejects 'cuda' itself (E_BACKEND):
  // a call that still went to the CPU by default would resolve instead.
  noDevice('forward pass, column statistics, Hessian and SparseGPT each reject cuda here', async () => {
    const m = await loadModel(model);
    try {
      const fm = new ForwardModel(m, { backend: 'cuda' });
      await expect(fm.embed([1, 2], 1, 2)).rejects.toThrow(BackendError);
      const layers = selectLayers(m.config, m.tensors).blocks[0];
      const stats = createCollectors(fm, layers, { methods: [sparsegpt()], backend: 'cuda' }).get('attnIn')!;
      const x = new Float32Array(m.config.hiddenSize).fill(1);
      await expect(stats.columns!.add(x, 1, { backend: 'cuda' })).rejects.toThrow(BackendError);
      expect(stats.hessian!.backend).toBe('cuda');
      await expect(stats.hessian!.add(x, 1)).rejects.toThrow(BackendError);
      const h = new HessianAccumulator(m.config.hiddenSize, { backend: 'cpu' });
      await h.add(x, 1);
      const q = asMatrix(m.tensors.get(layers[0].name)!);
      await expect(sparsegpt().prune(q, { hessian: h }, { sparsity: 0.5, backend: 'cuda' })).rejects.toThrow(BackendError);
      await expect(wanda().prune(q, { columns: stats.columns }, { sparsity: 0.5, backend: 'cuda' })).rejects.toThrow(BackendError);
    } finally {
      m.close();
    }
  });
});
