// The sweep's output folder as a cache: DIR/sweep.json (the settings every cell
// depends on), DIR/dense.json (the dense evaluation) and DIR/cells/<cell>.json, one
// per finished cell, each written atomically. A rerun with --resume keeps the files
// whose settings match and recomputes only what is missing. Temporary files of writes
// cut short (a killed sweep) carry their owner in their name (lib/util/scratch.ts):
// open() removes those whose owner is gone.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ArgumentRangeError, ShearsError } from '../errors';
import { writeFileAtomic } from '../report/atomic';
import { cleanStaleScratch } from '../util/scratch';
import { validateResults } from '../report/validate';
import type { DenseResult, SweepCell } from '../report/types';
import { CellSpec } from './options';

const NON_FINITE: Record<string, number> = { Infinity: Infinity, '-Infinity': -Infinity, NaN: NaN };
// JSON has no Infinity/NaN (a diverged model is a result): written as strings, as in results.json.
const encode = (v: unknown) => `${JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x), 2)}\n`;
const decode = (text: string): unknown =>
  JSON.parse(text, (_k, x: unknown) => (typeof x === 'string' && x in NON_FINITE ? NON_FINITE[x] : x));

export class SweepStore {
  readonly cellsDir: string;

  constructor(readonly dir: string) {
    this.cellsDir = path.join(dir, 'cells');
  }

  /** File name of a cell: "2:4" becomes "2-4" (colons are not portable in names). */
  cellFile(c: CellSpec): string {
    return path.join(this.cellsDir, `${c.method}_${c.pattern.replace(':', '-')}_${c.level}.json`);
  }

  /** Results there (sweep.json alone, left by a run that failed early, is not). */
  private hasState(): boolean {
    if (fs.existsSync(path.join(this.dir, 'dense.json'))) return true;
    return fs.existsSync(this.cellsDir) && fs.readdirSync(this.cellsDir).some((f) => f.endsWith('.json'));
  }

  /**
   * Prepares the folder. Fresh run: an existing sweep there is an error unless force
   * (then its cache is removed). Resume: the saved settings must equal `settings`.
   * Returns notes for the user: temporary files left by stopped runs, removed.
   */
  open(settings: Record<string, unknown>, o: { resume?: boolean; force?: boolean }): string[] {
    if (fs.existsSync(this.dir) && !fs.statSync(this.dir).isDirectory()) throw new ArgumentRangeError(`--out ${this.dir} exists and is not a directory`);
    const notes = [this.dir, this.cellsDir].map(cleanStaleScratch).filter((n): n is string => n !== undefined);
    const saved = path.join(this.dir, 'sweep.json');
    if (o.resume && fs.existsSync(saved)) {
      let old: Record<string, unknown>;
      try {
        old = JSON.parse(fs.readFileSync(saved, 'utf8')) as Record<string, unknown>;
      } catch (e) {
        throw new ShearsError(`${saved}: cannot read the saved sweep settings (${(e as Error).message})`, 'E_ARGUMENT');
      }
      const diff = [...new Set([...Object.keys(old), ...Object.keys(settings)])].filter(
        (k) => JSON.stringify(old[k]) !== JSON.stringify(settings[k]),
      );
      if (diff.length > 0)
        throw new ArgumentRangeError(`cannot resume the sweep in ${this.dir}: its settings differ (${diff.join(', ')}); use another --out or --force without --resume`);
    } else if (!o.resume && this.hasState()) {
      if (!o.force) throw new ArgumentRangeError(`${this.dir} already holds a sweep: use --resume to finish it or --force to start over`);
      fs.rmSync(this.cellsDir, { recursive: true, force: true });
      fs.rmSync(path.join(this.dir, 'dense.json'), { force: true });
    }
    fs.mkdirSync(this.cellsDir, { recursive: true });
    fs.writeFileSync(saved, `${JSON.stringify(settings, null, 2)}\n`);
    return notes;
  }

  private read<T>(file: string): T | undefined {
    if (!fs.existsSync(file)) return undefined;
    try {
      return decode(fs.readFileSync(file, 'utf8')) as T;
    } catch {
      return undefined; // unreadable: recomputed
    }
  }

  readDense(): DenseResult | undefined {
    return this.read<DenseResult>(path.join(this.dir, 'dense.json'));
  }

  async writeDense(d: DenseResult): Promise<void> {
    await writeFileAtomic(path.join(this.dir, 'dense.json'), encode(d));
  }

  /** A cached cell, if it is complete and for this spec. */
  readCell(c: CellSpec): SweepCell | undefined {
    const cell = this.read<SweepCell>(this.cellFile(c));
    if (!cell || cell.method !== c.method || cell.pattern !== c.pattern || cell.level !== c.level) return undefined;
    try {
      validateResults({ model: 'cache', dense: { perplexity: 0 }, cells: [cell] });
    } catch {
      return undefined; // incomplete or edited by hand: recomputed
    }
    return cell;
  }

  async writeCell(cell: SweepCell): Promise<void> {
    await writeFileAtomic(this.cellFile(cell), encode(cell));
  }
}
