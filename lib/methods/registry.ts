// Every pruning method shears knows of, implemented or not. An unimplemented method is
// listed (so users see the plan) and raises NotImplementedError when chosen.
import { NotImplementedError } from '../errors';
import { magnitude, sparsegpt, Strategy, wanda } from '../strategies';

export interface MethodInfo {
  name: string;
  description: string;
  implemented: boolean;
  /** Needs calibration data (activations). */
  calibrated: boolean;
  create?: () => Strategy;
}

export const METHODS: readonly MethodInfo[] = [
  { name: 'magnitude', description: '|W|, per matrix by default (as in the Wanda reference code)', implemented: true, calibrated: false, create: magnitude },
  { name: 'wanda', description: '|W_ij| * ||X_j||_2, per output row (Sun et al. 2023)', implemented: true, calibrated: true, create: wanda },
  { name: 'sparsegpt', description: 'OBS pruning with weight reconstruction (Frantar & Alistarh 2023)', implemented: true, calibrated: true, create: () => sparsegpt() },
  { name: 'ria', description: 'relative importance and activations', implemented: false, calibrated: true },
  { name: 'owl', description: 'outlier-weighted layer-wise sparsity', implemented: false, calibrated: true },
  { name: 'bias', description: 'bias-based importance', implemented: false, calibrated: true },
  { name: 'gradient', description: 'gradient-based importance', implemented: false, calibrated: true },
  { name: 'fisher', description: 'Fisher-information importance', implemented: false, calibrated: true },
  { name: 'l1-structured', description: 'L1-norm structured pruning (neurons, heads)', implemented: false, calibrated: false },
  { name: 'kmeans', description: 'k-means weight clustering', implemented: false, calibrated: false },
  { name: 'random', description: 'uniformly random baseline', implemented: false, calibrated: false },
  { name: 'random-pattern', description: 'random N:M pattern baseline', implemented: false, calibrated: false },
  { name: 'variational-dropout', description: 'variational dropout', implemented: false, calibrated: true },
  { name: 'rl-allocation', description: 'RL-driven layer-wise sparsity allocation', implemented: false, calibrated: true },
  { name: 'query-aware', description: "shears' query-aware probabilistic method", implemented: false, calibrated: true },
];

/** The method called `name`; RangeError if unknown, NotImplementedError if only planned. */
export function methodInfo(name: string): MethodInfo {
  const m = METHODS.find((x) => x.name === name);
  if (!m) {
    const known = METHODS.filter((x) => x.implemented)
      .map((x) => x.name)
      .join(', ');
    throw new RangeError(`unknown method '${name}' (implemented: ${known}; \`shears methods\` lists all)`);
  }
  if (!m.implemented) throw new NotImplementedError(`method '${name}' (${m.description}) is not implemented yet`);
  return m;
}
