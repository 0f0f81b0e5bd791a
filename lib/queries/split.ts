// A deterministic calibration / held-out split of a query file. Each row (a non-empty
// line: a text query, or a JSONL row with its "text" or chat "messages") is held out
// when the hash of (seed, row) falls below the held-out fraction (./hash.ts). So:
//   - the same file and seed always give the same split, on every machine;
//   - appending rows never moves an existing row to the other side (its hash is its own);
//   - repeated rows land on the same side: a duplicate cannot leak into both parts.
// The held-out count is therefore close to, not exactly, fraction x rows. Rows are
// copied verbatim, in file order, so each part is read exactly as the whole would be.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { CalibrationError, readCalibrationDocuments } from '../calibration/read';
import { ArgumentRangeError } from '../errors';
import { OutputError, checkOutput, writeAtomically } from '../formats/atomic';
import { textFraction } from './hash';

export interface SplitOptions {
  /** Fraction of rows held out, in (0, 1). */
  heldOut: number;
  /** Seed of the row hashes (default 0). */
  seed?: number;
}

export interface QuerySplit {
  file: string;
  format: 'text' | 'jsonl';
  /** Rows of each part, verbatim, in file order. */
  calibration: string[];
  heldOut: string[];
}

export function checkSplitOptions(o: SplitOptions): { heldOut: number; seed: number } {
  const seed = o.seed ?? 0;
  if (typeof o.heldOut !== 'number' || !(o.heldOut > 0 && o.heldOut < 1))
    throw new ArgumentRangeError(`the held-out fraction (--held-out) must be a number in (0, 1), got ${String(o.heldOut)}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > Number.MAX_SAFE_INTEGER) throw new ArgumentRangeError(`seed (--seed) must be an integer >= 0, got ${String(o.seed)}`);
  return { heldOut: o.heldOut, seed };
}

/** Splits the rows of a query file (text lines or JSONL); the file is only read. */
export function splitQueries(file: string, options: SplitOptions): QuerySplit {
  const { heldOut, seed } = checkSplitOptions(options);
  // The calibration reader validates the file (JSON, messages) and says what it is.
  const docs = readCalibrationDocuments(file);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new CalibrationError(`cannot read the query file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, file);
  }
  // The reader's rows: lines split the same way, blank ones dropped.
  const rows = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const calibration: string[] = [];
  const held: string[] = [];
  for (const row of rows) (textFraction(seed, row) < heldOut ? held : calibration).push(row);
  if (held.length === 0 || calibration.length === 0)
    throw new CalibrationError(
      `splitting ${rows.length} row${rows.length === 1 ? '' : 's'} with --held-out ${heldOut} --seed ${seed} leaves the ${held.length === 0 ? 'held-out' : 'calibration'} part empty: ` +
        'give more queries, another fraction or another seed',
      file,
    );
  return { file, format: docs.format, calibration, heldOut: held };
}

export interface WriteSplitOptions {
  outCalibration: string;
  outHeldOut: string;
  force?: boolean;
}

/** Checks that the two outputs may be written: distinct, not the input, not existing (unless force). */
export function checkSplitOutputs(input: string, o: WriteSplitOptions): void {
  if (path.resolve(o.outCalibration) === path.resolve(o.outHeldOut))
    throw new OutputError(`--out-calib and --out-held-out are the same file (${o.outCalibration})`);
  for (const out of [o.outCalibration, o.outHeldOut]) {
    if (path.resolve(out) === path.resolve(input) || (fs.existsSync(out) && fs.existsSync(input) && fs.realpathSync(out) === fs.realpathSync(input)))
      throw new OutputError(`${out}: refusing to write over the query file being split (${input})`);
    checkOutput(out, 'file', { force: o.force });
  }
}

/**
 * Writes both parts (one row per line), each atomically: the calibration part is published
 * once the held-out part is fully written, then the held-out part; an error before leaves neither.
 */
export async function writeSplit(split: QuerySplit, o: WriteSplitOptions): Promise<void> {
  checkSplitOutputs(split.file, o);
  const text = (rows: string[]) => `${rows.join('\n')}\n`;
  await writeAtomically(o.outHeldOut, 'file', { force: o.force }, async (heldTemp) => {
    fs.writeFileSync(heldTemp, text(split.heldOut));
    await writeAtomically(o.outCalibration, 'file', { force: o.force }, async (calibTemp) => {
      fs.writeFileSync(calibTemp, text(split.calibration));
    });
  });
}
