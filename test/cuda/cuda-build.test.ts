// The CUDA variant of the addon loads everywhere (static CUDA runtime) and says
// whether it found a device; without one, the loader falls back to the CPU build.
import { outcome } from './compare';
import { cudaModule, describeCudaBuild, hasCudaDevice } from './cuda-module';

describeCudaBuild()('CUDA build (build-cuda/Release/shears.node)', () => {
  test('loads and reports its CUDA status', () => {
    const info = cudaModule().backends();
    expect(info.cudaCompiled).toBe(true);
    expect(typeof info.cudaStatus).toBe('string');
    expect(info.cudaStatus.length).toBeGreaterThan(0);
    if (info.cudaAvailable) {
      expect(info.cudaStatus).toMatch(/compute capability \d+\.\d+/);
    } else {
      // no device, no driver, or a device this build cannot run on: a reason, not a crash
      expect(info.cudaStatus).toMatch(/no CUDA device|unusable|cannot run/);
    }
  });

  test('the CPU backend of the CUDA build prunes (and auto works either way)', async () => {
    const m = cudaModule();
    for (const backend of ['cpu', 'auto'] as const) {
      const w = { data: new Float32Array([1, -5, 3, 0.5, 2, 2, -2, 1]), dtype: 'f32' as const, rows: 2, cols: 4 };
      const mask = { bits: new Uint8Array(1), prunedPerRow: new Uint32Array(2) };
      const pruned = await m.prune(w, { p: 1, q: 0 }, { sparsity: 0.5, granularity: 'row' }, mask, { backend });
      expect(pruned).toBe(4);
      expect(Array.from(w.data)).toEqual([0, -5, 3, 0, 0, 2, -2, 0]);
    }
  });

  (hasCudaDevice ? test.skip : test)('without a device, backend "cuda" fails with E_BACKEND naming the cause', async () => {
    const m = cudaModule();
    const w = { data: new Float32Array(4), dtype: 'f32' as const, rows: 1, cols: 4 };
    const r = await outcome(() => m.score(w, { p: 1, q: 0, backend: 'cuda' }, new Float32Array(4)));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe('E_BACKEND');
      expect(r.message).toContain(m.backends().cudaStatus);
    }
  });

  const autoLoader = ['', 'auto'].includes((process.env.SHEARS_BACKEND ?? '').toLowerCase());
  (autoLoader ? test : test.skip)('the loader picks the CUDA build only with a device, else falls back with a note', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { addon } = require('../../lib/native/binding') as typeof import('../../lib/native/binding');
    const a = addon();
    if (hasCudaDevice) {
      expect(a.flavour).toBe('cuda');
      expect(a.note).toMatch(/compute capability/);
    } else {
      expect(a.flavour).toBe('cpu');
      expect(a.note).toMatch(/found no device/);
    }
  });
});
