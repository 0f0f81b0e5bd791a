// `shears queries split`: a deterministic calibration / held-out split of a query file
// (lib/queries/split.ts): prune on one part, measure on the other with
// `shears eval --reference DENSE --queries HELDOUT`.
import { Command } from 'commander';

import { splitQueries, writeSplit } from '../../queries/split';
import { int, num } from '../parse';

export function register(program: Command): void {
  const queries = program.command('queries').description("users' queries: split a query file into calibration and held-out parts");
  queries
    .command('split')
    .description('split a query file (text lines or JSONL rows) by a hash of each row and a seed: the same split every time, stable when rows are appended')
    .requiredOption('--data <file>', 'query file: one query per line, or JSONL with "text" or chat "messages"')
    .requiredOption('--held-out <fraction>', 'fraction of rows held out, in (0, 1)', num('--held-out'))
    .option('--seed <s>', 'seed of the row hashes', int('--seed'), 0)
    .requiredOption('--out-calib <file>', 'the calibration rows')
    .requiredOption('--out-held-out <file>', 'the held-out rows')
    .option('--force', 'replace existing outputs')
    .option('--json', 'print the counts as one JSON object')
    .action(async (o: { data: string; heldOut: number; seed: number; outCalib: string; outHeldOut: string; force?: boolean; json?: boolean }) => {
      const split = splitQueries(o.data, { heldOut: o.heldOut, seed: o.seed });
      await writeSplit(split, { outCalibration: o.outCalib, outHeldOut: o.outHeldOut, force: o.force });
      const counts = { rows: split.calibration.length + split.heldOut.length, calibration: split.calibration.length, held_out: split.heldOut.length, format: split.format, seed: o.seed };
      if (o.json) process.stdout.write(`${JSON.stringify(counts)}\n`);
      else
        process.stdout.write(
          `${counts.rows} ${split.format === 'jsonl' ? 'rows' : 'queries'}: ${counts.calibration} for calibration (${o.outCalib}), ${counts.held_out} held out (${o.outHeldOut}), seed ${o.seed}\n`,
        );
    });
}
