// What the API shows of a job: its record without the server's absolute paths, with the
// names its files are served under (GET /jobs/:id/files/<name>).
import * as path from 'node:path';

import type { JobRecord } from './job-store';

/** name -> absolute path of a succeeded job's outputs (names relative to its output folder, '/'-separated). */
export function jobFiles(record: JobRecord): Map<string, string> {
  const files = new Map<string, string>();
  if (record.state !== 'succeeded' || !record.outputs || !record.outputBase) return files;
  for (const file of record.outputs) files.set(path.relative(record.outputBase, file).split(path.sep).join('/'), file);
  return files;
}

export function jobView(record: JobRecord): Record<string, unknown> {
  const { report, outputs, outputBase, ...shown } = record;
  void report, void outputs, void outputBase;
  return { ...shown, files: [...jobFiles(record).keys()] };
}
