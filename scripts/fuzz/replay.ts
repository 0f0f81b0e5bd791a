// Re-runs saved reproducers (or committed regression cases) through a runner process.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { materialize, readReproducer, type CaseRecord } from './findings';
import { Runner } from './runner';
import type { Outcome } from './spec';

export interface Replayed {
  dir: string;
  record: CaseRecord;
  outcome: Outcome;
}

/** Replays each case directory in turn with one runner (respawned after a failure). */
export async function replayCases(dirs: string[], runner: Runner): Promise<Replayed[]> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-fuzz-replay-'));
  const out: Replayed[] = [];
  try {
    for (const dir of dirs) {
      const { record, files } = readReproducer(dir);
      const caseDir = path.join(work, 'case');
      materialize(caseDir, files);
      const outcome = await runner.run(caseDir, record.spec);
      if (outcome.message) outcome.message = outcome.message.split(caseDir).join('<case>');
      out.push({ dir, record, outcome });
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return out;
}
