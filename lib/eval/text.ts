// Evaluation text as the protocol wants it: a plain file as it is; a JSONL file's
// "text" rows joined with "\n\n" (WikiText-2 raw from the HF datasets format).
import * as fs from 'node:fs';

import { CalibrationError } from '../calibration/read';

export function readEvalText(file: string): string {
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new CalibrationError(`cannot read evaluation text (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, file);
  }
  if (!/\.jsonl$/i.test(file)) {
    if (raw.trim() === '') throw new CalibrationError('the evaluation text is empty', file);
    return raw;
  }
  const rows: string[] = [];
  raw.split(/\r?\n/).forEach((l, i) => {
    if (l.trim() === '') return;
    try {
      const t = (JSON.parse(l) as { text?: unknown }).text;
      if (typeof t === 'string') rows.push(t);
    } catch (e) {
      throw new CalibrationError(`line ${i + 1} is not valid JSON (${(e as Error).message})`, file);
    }
  });
  if (rows.length === 0) throw new CalibrationError('no row has a "text" field', file);
  return rows.join('\n\n');
}
