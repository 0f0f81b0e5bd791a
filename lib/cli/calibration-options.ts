// What the commands that run a calibration pass share on the command line: the
// calibration options, and running the work with a stop signal and a progress display.
import { Command, Option } from 'commander';

import { int } from './parse';
import { interruptSignal, progressSink, ProgressSink } from './progress';

/** --calib, --calib-tokens, --calib-samples, --seq-len, --calib-sampling, --seed (prune, stats). */
export function addCalibrationOptions(c: Command): Command {
  return c
    .option('--calib <file>', 'calibration text: one query per line, a corpus, or JSONL (text or chat messages)')
    .option('--calib-tokens <file>', 'calibration token ids (a JSON array)')
    .option('--calib-samples <k>', 'number of calibration sequences (default 128)', int('--calib-samples'))
    .option('--seq-len <l>', 'calibration sequence length (default min(2048, context length))', int('--seq-len'))
    .addOption(new Option('--calib-sampling <how>', 'random windows (default) or the first windows').choices(['random', 'contiguous']))
    .option('--seed <n>', 'seed of the random sampling (default 0)', int('--seed'));
}

/** Runs `work` with a Ctrl-C signal, a progress sink on stderr and warnings printed there; both are released however it ends. */
export async function runWithProgress<T>(
  work: (tools: { signal: AbortSignal; sink: ProgressSink; warn: (m: string) => void }) => Promise<T>,
): Promise<T> {
  const sink = progressSink(process.stderr, false);
  const { signal, dispose } = interruptSignal(() => process.stderr.write('\nshears: stopping (Ctrl-C again to quit at once)\n'));
  try {
    return await work({ signal, sink, warn: (m) => process.stderr.write(`shears: warning: ${m}\n`) });
  } finally {
    sink.stop();
    dispose();
  }
}
