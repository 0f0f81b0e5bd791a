// The whole native addon as one typed interface: every function it exports, with its
// signature, joined from the per-area views next to this file. ADDON_ARITY lists the
// same names with each function's parameter count (optional ones included); the
// compiler ties it to the interface, and test/native/exports.test.ts ties it to the
// real exports (names, and `length`, which native/bindings/registry.h sets).
import { BackwardNative } from './backward';
import { addon } from './binding';
import { EvalNative } from './eval';
import { FilesNative } from './files';
import type { FormulaNative } from '../formula/native';
import { ForwardNative } from './forward';
import { KernelsNative } from './kernels';
import { KmeansNative } from './kmeans';
import { MaskNative } from './mask';
import { OptimNative } from './optim';
import { RiaNative } from './ria';
import { RefineNative } from './refine';
import { OutliersNative } from './outliers';
import { SparseGptNative } from './sparsegpt';
import { VdNative } from './vd';

export interface ShearsAddon extends KernelsNative, SparseGptNative, ForwardNative, BackwardNative, FilesNative, OptimNative, VdNative, EvalNative, MaskNative, FormulaNative, KmeansNative, OutliersNative, RefineNative, RiaNative {}

/** The number of parameters of F, optional ones included. */
type Arity<F> = F extends (...args: infer P) => unknown ? Required<P>['length'] : never;

export const ADDON_ARITY: { readonly [K in keyof ShearsAddon]-?: Arity<ShearsAddon[K]> } = {
  // kernels
  score: 3,
  select: 6,
  selectGlobal: 3,
  applyMask: 3,
  prune: 5,
  columnStats: 4,
  columnNorms: 2,
  countPositive: 1,
  rowCosineSum: 3,
  accumulateMoments: 3,
  zeroMask: 3,
  // weight sharing (kmeans) and OWL's outlier count
  kmeansCluster: 3,
  outlierCount: 3,
  // RIA's score and channel permutation
  riaScore: 4,
  riaPermutation: 3,
  convert: 4,
  // runtime
  threads: 0,
  setThreads: 1,
  backends: 0,
  cpuFeatures: 0,
  setCpuFeatures: 1,
  // baselines of bench:kernels
  benchCopy: 3,
  benchSortSelect: 5,
  // SparseGPT
  hessianAdd: 5,
  sparsegptPrune: 5,
  // forward pass
  fwdMatmul: 6,
  fwdEmbed: 7,
  fwdBlock: 6,
  fwdNll: 6,
  fwdLogits: 5,
  fwdArgmax: 5,
  fwdKlTop1: 8,
  // backward pass
  bwdModel: 6,
  bwdMoments: 6,
  // sparse variational dropout
  vdLinearForward: 1,
  vdLinearBackward: 1,
  vdKl: 1,
  vdNegKl: 1,
  vdTrainLayer: 1,
  vdHistogram: 4,
  vdBlockMse: 2,
  vdTrainBlock: 2,
  // learned masks (hard-concrete gates) block by block
  hcBlockLoss: 2,
  hcTrainBlock: 2,
  // sampling the next token (generation)
  sampleTokens: 6,
  // optimizer (recovery fine-tuning)
  adamwStep: 4,
  ewcPenalty: 4,
  floatSummary: 1,
  castKeepingZeros: 3,
  keepFromZeros: 3,
  prunedNonzero: 3,
  // files
  mapFile: 1,
  unmapFile: 1,
  mapScratch: 2,
  releasePages: 1,
  dequantQ8_0: 2,
  permuteRopeRows: 6,
  transposeBytes: 5,
  gatherBytes: 7,
  // formula method (lib/formula/native.ts)
  formulaScores: 4,
  formulaHdiag: 4,
  // random baselines' scores, DSnoT's refinement
  randomScores: 3,
  dsnotRefine: 4,
};

/** The loaded addon, typed. */
export function shearsAddon(): ShearsAddon {
  return addon().module as unknown as ShearsAddon;
}
