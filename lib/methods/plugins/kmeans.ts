// k-means weight sharing (Deep Compression, Han et al. 2016; seed Table 4): each matrix is
// pruned by a base method (--base wanda|magnitude|sparsegpt, default wanda) to the target,
// then its kept weights are clustered into 2^b shared values (--bits b, default 4) by 1-D
// k-means with linear initialization and written back in the matrix's dtype. Pruned weights
// stay exactly zero; a kept weight becomes zero only if its cluster's value is (or rounds
// to) zero. The notes give the size of the codebook + index form next to the dense size, and
// the clustering error. docs/kmeans.md.
import { baseMethod } from '../base-option';
import type { Strategy } from '../../strategies';
import { checkBits, Clustering, clusterKept, compressedSize } from '../kmeans-cluster';
import type { MethodOptions, UnstructuredMethod } from '../plugin';
import { magnitude } from './magnitude';
import { sparsegpt } from './sparsegpt';
import { wanda } from './wanda';

export const KMEANS_BASES = ['wanda', 'magnitude', 'sparsegpt'] as const;
export type KmeansBase = (typeof KMEANS_BASES)[number];
export const DEFAULT_BITS = 4;

function baseStrategy(base: string | undefined): Strategy {
  const name = baseMethod('kmeans', KMEANS_BASES, base);
  return name === 'magnitude' ? magnitude() : name === 'sparsegpt' ? sparsegpt() : wanda();
}

/** What the run's matrices add up to, for the notes. */
interface Totals {
  matrices: number;
  kept: number;
  sseInitial: number;
  sseWritten: number;
  dense: number;
  compressed: number;
  relative: number;
  bitmap: number;
  maxIterations: number;
  unconverged: number;
}

const MiB = (b: number) => `${(b / 2 ** 20).toFixed(3)} MiB`;

function summary(t: Totals, bits: number, base: string): string[] {
  if (t.matrices === 0) return [];
  const mse = t.kept > 0 ? t.sseWritten / t.kept : 0;
  const mseInit = t.kept > 0 ? t.sseInitial / t.kept : 0;
  return [
    `kmeans (--base ${base}, --bits ${bits}): ${t.matrices} matrices, ${t.kept} kept weights clustered into at most ${2 ** bits} shared values each; ` +
      `mean squared clustering error ${mse.toExponential(4)} (linear initialization: ${mseInit.toExponential(4)}); ` +
      `Lloyd's steps at most ${t.maxIterations} per matrix${t.unconverged > 0 ? `, ${t.unconverged} matrices stopped at the bound before converging` : ', every matrix converged'}`,
    `kmeans codebook + index form: ${MiB(t.compressed)} against ${MiB(t.dense)} dense (${(t.dense / Math.max(1, t.compressed)).toFixed(2)}x smaller; ` +
      `${bits}-bit codebook indices per kept weight; where they are: ${t.relative} matrices with Deep Compression's 5-bit relative indices, ${t.bitmap} with a keep bitmap, whichever is smaller` +
      `${t.matrices - t.relative - t.bitmap > 0 ? `, ${t.matrices - t.relative - t.bitmap} with every weight kept (no positions)` : ''}; ` +
      `a codebook of ${2 ** bits} values in the matrix's dtype per matrix)`,
  ];
}

const BYTES: Record<string, number> = { f32: 4, f16: 2, bf16: 2 };

/** Prunes with the base method, then shares the kept weights of each matrix among 2^bits values. */
export function kmeans(o: MethodOptions = {}): Strategy {
  const base = baseStrategy(o.base);
  const bits = checkBits(o.bits ?? DEFAULT_BITS);
  const t: Totals = { matrices: 0, kept: 0, sseInitial: 0, sseWritten: 0, dense: 0, compressed: 0, relative: 0, bitmap: 0, maxIterations: 0, unconverged: 0 };
  const add = (c: Clustering, rows: number, cols: number, bytes: number) => {
    const size = compressedSize(c, rows, cols, bytes);
    t.matrices++;
    t.kept += c.kept;
    t.sseInitial += c.sseInitial;
    t.sseWritten += c.sseWritten;
    t.dense += size.dense;
    t.compressed += size.compressed;
    if (size.form === 'relative') t.relative++;
    if (size.form === 'bitmap') t.bitmap++;
    t.maxIterations = Math.max(t.maxIterations, c.iterations);
    if (!c.converged) t.unconverged++;
  };
  return {
    name: 'kmeans',
    needs: base.needs,
    defaultGranularity: base.defaultGranularity,
    // The clustering happens in prune(): one threshold across matrices would skip it.
    allowsGlobal: false,
    collect: base.collect,
    scoreOptions: (stats) => base.scoreOptions(stats),
    async prune(w, stats, selection, layer) {
      const mask = await base.prune(w, stats, selection, layer);
      add(await clusterKept(w, mask, { bits }), w.rows, w.cols, BYTES[w.dtype]);
      return mask;
    },
    notes: () => summary(t, bits, o.base ?? 'wanda'),
  };
}

export const method: UnstructuredMethod = {
  name: 'kmeans',
  description: 'prune (--base wanda|magnitude|sparsegpt), then share each matrix\'s kept weights among 2^bits values by 1-D k-means (Han et al. 2016)',
  // It changes the kept weights: no single threshold across matrices (global) applies.
  kind: 'reconstruct',
  // The default base (wanda) reads activations; with --base magnitude the calibration set is drawn but not used.
  calibrated: true,
  source: 'Han, Mao & Dally, Deep Compression (ICLR 2016)',
  order: 95,
  options: ['base', 'bits'],
  checkOptions(o) {
    baseMethod('kmeans', KMEANS_BASES, o.base);
    if (o.bits !== undefined) checkBits(o.bits);
  },
  create: (o) => kmeans(o),
};
