// `prune --stats FILE`, checked before the model is loaded: the file is read as far as
// its header (entries, shapes, metadata: no values), and the method must read nothing
// the file lacks. The per-model checks follow once the model is loaded (./for-model.ts).
import { ArgumentRangeError } from '../errors';
import type { MethodOptions } from '../methods/plugin';
import type { MethodInfo } from '../methods/registry';
import { StatsFileError } from './errors';
import { describeStatistic, SHEARS_PROVIDES } from './format';
import { openImportance } from './importance';

/** `options`: the run's method options (formula's needs follow its --score). */
export function checkStatsFileFor(file: string, m: MethodInfo, o: { calib?: string; calibTokens?: string }, options: MethodOptions = {}): void {
  if (o.calib || o.calibTokens) throw new ArgumentRangeError(`give --stats or a calibration file (--calib, --calib-tokens), not both: --stats ${file} replaces the calibration pass`);
  if (m.kind === 'structured')
    throw new ArgumentRangeError(`--stats applies to methods that mask weights with per-column statistics (as wanda); ${m.name} gathers its own statistics: use --calib`);
  const src = openImportance(file);
  try {
    if (!m.calibrated || !m.create) return;
    const missing = m.create(options).needs.filter((n) => !src.provides.includes(n));
    if (missing.length > 0)
      throw new StatsFileError(
        file,
        `method ${m.name} needs ${missing.map(describeStatistic).join(' and ')}, which this ${src.form} file does not hold ` +
          `(it has ${src.provides.map(describeStatistic).join(', ')}): ` +
          (src.form === 'shears' && missing.every((n) => SHEARS_CAN_PROVIDE.includes(n))
            ? `write it with shears stats --gradients, or run ${m.name} with --calib instead`
            : `run ${m.name} with --calib instead`),
        'E_STATS_MISSING',
      );
  } finally {
    src.close();
  }
}

/** What a shears importance file can hold: the activation statistics, and the gradient moments when written with --gradients. */
const SHEARS_CAN_PROVIDE: readonly string[] = [...SHEARS_PROVIDES, 'gradient'];

/** Whether a shears importance file can hold everything method `m` reads with these options (false when they do not make a strategy). */
export function statsCanServe(m: MethodInfo, options: MethodOptions = {}): boolean {
  if (m.kind === 'structured' || !m.calibrated || m.create === undefined) return false;
  try {
    return m.create(options).needs.every((n) => SHEARS_CAN_PROVIDE.includes(n));
  } catch {
    return false; // e.g. formula without --score: its own check says what is missing
  }
}
