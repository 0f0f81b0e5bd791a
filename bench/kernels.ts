// Kernel benchmark: score + per-row select + apply (the fused prune) on a Llama-7B MLP
// shape, next to a plain memcpy of the same bytes and a naive sort-per-row selection,
// all measured in the same run and the same binary (the machines are shared, so only
// side-by-side ratios are meaningful).
//   npm run bench:kernels -- [--json] [--rows R] [--cols C] [--reps N] [--backend cpu|cuda] [--dtypes f32,f16]
import { kernelsNative } from '../lib/native/kernels';
import { Backend, ColumnStats, computeScores, DType, fromFloat32, Matrix, pruneMatrix, selectMask } from '../lib';
import { machineInfo, median, table, timeIt } from './machine';

interface Args {
  json: boolean;
  rows: number;
  cols: number;
  reps: number;
  sparsity: number;
  backend: Backend;
  dtypes: DType[];
}

function parseArgs(argv: string[]): Args {
  const a: Args = { json: false, rows: 4096, cols: 11008, reps: 5, sparsity: 0.5, backend: 'cpu', dtypes: ['f32', 'f16'] };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    switch (argv[i]) {
      case '--json': a.json = true; break;
      case '--rows': a.rows = Number(v); i++; break;
      case '--cols': a.cols = Number(v); i++; break;
      case '--reps': a.reps = Number(v); i++; break;
      case '--sparsity': a.sparsity = Number(v); i++; break;
      case '--backend': a.backend = v as Backend; i++; break;
      case '--dtypes': a.dtypes = v.split(',') as DType[]; i++; break;
      default: throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  return a;
}

/** Deterministic weights with a realistic spread (roughly gaussian, scale 0.02), stored in `dtype`. */
async function makeWeights(rows: number, cols: number, dtype: DType): Promise<Matrix> {
  const f = new Float32Array(rows * cols);
  let s = 12345;
  for (let i = 0; i < f.length; i++) {
    // xorshift32; setup only, not part of any timing
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    f[i] = (((s >>> 0) / 4294967296) * 2 - 1 + (((s >>> 8) & 0xffff) / 65536 - 0.5)) * 0.02;
  }
  if (dtype === 'f32') return { data: f, dtype, rows, cols };
  return { data: await fromFloat32(f, dtype), dtype, rows, cols };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const native = kernelsNative();
  const results: Record<string, unknown>[] = [];
  for (const dtype of args.dtypes) {
    const { rows, cols, sparsity, backend, reps } = args;
    const pristine = await makeWeights(rows, cols, dtype);
    const work: Matrix = { ...pristine, data: pristine.data.slice() };
    const bytes = pristine.data.byteLength;
    const src = new Uint8Array(pristine.data.buffer, pristine.data.byteOffset, bytes);
    const dst = new Uint8Array(work.data.buffer, work.data.byteOffset, bytes);
    const restore = () => native.benchCopy(src, dst, { parallel: true });

    // Wanda statistic from a batch of activations (setup).
    const stats = new ColumnStats(cols);
    const x = new Float32Array(64 * cols).map((_, i) => Math.sin(i) * (1 + (i % cols) / cols));
    await stats.add(x, 64);
    const act = stats.l2Norms();

    // Kernel and memcpy alternate within each repetition, so that both see the same
    // machine (the memory bandwidth of these shared VMs drifts between runs).
    const kernelTimes: number[] = [];
    const memcpyTimes: number[] = [];
    const memcpy1Times: number[] = [];
    for (let i = 0; i < reps; i++) {
      kernelTimes.push(await timeIt(1, () => pruneMatrix(work, { p: 1, q: 1, act, backend }, { sparsity, backend }), restore));
      memcpyTimes.push(await timeIt(1, () => native.benchCopy(src, dst, { parallel: true })));
      memcpy1Times.push(await timeIt(1, () => native.benchCopy(src, dst, { parallel: false })));
    }
    const kernelMs = median(kernelTimes);
    const memcpyMs = median(memcpyTimes);
    const memcpy1Ms = median(memcpy1Times);
    // Selection alone (from precomputed scores): ours against a full sort of every row.
    const scores = await computeScores(pristine, { p: 1, q: 1, act, backend });
    const bits = new Uint8Array(Math.ceil((rows * cols) / 8));
    const selectMs = await timeIt(reps, () => selectMask(scores, rows, cols, { sparsity, backend }));
    const sortMs = await timeIt(Math.max(1, Math.min(reps, 3)), () => native.benchSortSelect(scores, rows, cols, sparsity, bits));
    const scoreMs = await timeIt(reps, () => computeScores(pristine, { p: 1, q: 1, act, backend }));

    const traffic = 2 * bytes; // W read once and written once
    const gbps = (ms: number) => traffic / (ms / 1e3) / 1e9;
    results.push({
      dtype,
      rows,
      cols,
      sparsity,
      backend,
      kernel: 'wanda score + per-row select + apply (fused prune)',
      kernel_ms: kernelMs,
      kernel_gbps: gbps(kernelMs),
      memcpy_ms: memcpyMs,
      memcpy_gbps: gbps(memcpyMs),
      memcpy_single_thread_gbps: gbps(memcpy1Ms),
      ratio_to_memcpy: memcpyMs / kernelMs,
      select_ms: selectMs,
      sort_ms: sortMs,
      speedup_vs_sort: sortMs / selectMs,
      fused_speedup_vs_score_sort_apply: (scoreMs + sortMs) / kernelMs,
      score_ms: scoreMs,
      threads: native.threads(),
    });
  }
  const out = { machine: machineInfo(), results };
  const text = table(
    ['dtype', 'rows x cols', 'kernel ms', 'kernel GB/s', 'memcpy GB/s', 'ratio', 'select ms', 'sort ms', 'speedup', 'threads'],
    results.map((r) => [
      r.dtype as string,
      `${r.rows}x${r.cols}`,
      r.kernel_ms as number,
      r.kernel_gbps as number,
      r.memcpy_gbps as number,
      r.ratio_to_memcpy as number,
      r.select_ms as number,
      r.sort_ms as number,
      r.speedup_vs_sort as number,
      r.threads as number,
    ]),
  );
  if (args.json) {
    process.stdout.write(`${JSON.stringify(out)}\n`);
    process.stderr.write(`${text}\n`);
  } else {
    process.stdout.write(`${text}\n`);
  }
}

main().catch((e) => {
  process.stderr.write(`bench:kernels: ${(e as Error).message}\n`);
  process.exit(1);
});
