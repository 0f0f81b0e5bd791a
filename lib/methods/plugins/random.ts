// The random baseline (seed Table 4): a seeded uniform mask at the requested sparsity and
// granularity (row by default; matrix, global, or a random N:M pattern with --pattern).
// With --structure it removes random units (channels, heads, blocks) instead.
import type { MethodOptions, UnstructuredMethod } from '../plugin';
import { randomStrategy } from '../random-scores';
import { randomUnits } from '../random-units';

export const method: UnstructuredMethod = {
  name: 'random',
  description: 'a seeded uniform mask (per row by default), or with --structure random channels, heads or blocks',
  kind: 'score',
  calibrated: false,
  order: 110,
  structured: () => randomUnits,
  create: (o?: MethodOptions) => randomStrategy('random', o?.seed ?? 0),
};
