// Errors of importance files that are well formed but cannot serve the run: made for
// another model, or without a statistic the method needs. Malformed bytes are
// FormatErrors (lib/errors.ts); both name the file.
import { ShearsError } from '../errors';

export class StatsFileError extends ShearsError {
  readonly file: string;
  /** E_STATS_MODEL: the file is for another model; E_STATS_MISSING: it lacks a statistic the method needs. */
  constructor(file: string, message: string, code: 'E_STATS_MODEL' | 'E_STATS_MISSING') {
    super(`${file}: ${message}`, code);
    this.file = file;
  }
}
