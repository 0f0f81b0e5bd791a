// `shears worker --queue redis://HOST:PORT`: computes the cells of distributed sweeps
// (`shears sweep --queue ...`) until stopped, logging one JSON line (pino) per event on
// stdout. Stopping it (Ctrl-C, SIGTERM) lets it save its running cell and take no
// other; a second stop exits at once, leaving the cell to another worker once its lock
// lapses (--lock-seconds).
import { Command } from 'commander';

import { ArgumentRangeError } from '../../errors';
import { parseQueueUrl } from '../../distributed/connection';
import { logLevelOption, num } from '../parse';
import { interruptSignal } from '../progress';

export function register(program: Command): void {
  program
    .command('worker')
    .description('compute the cells of distributed sweeps (shears sweep --queue) from a Redis queue; the sweep\'s files must be at the same paths here (a shared filesystem)')
    .requiredOption('--queue <url>', 'Redis URL: redis://[user:password@]HOST:PORT[/DB][?queue=NAME]')
    .option('--lock-seconds <s>', 'a cell whose worker is silent this long is retried by another worker (default 30)', num('--lock-seconds'))
    .addOption(logLevelOption())
    .action(async (opts: { queue: string; lockSeconds?: number; logLevel: string }) => {
      const queue = parseQueueUrl(opts.queue);
      if (opts.lockSeconds !== undefined && !(opts.lockSeconds >= 1 && opts.lockSeconds <= 3600))
        throw new ArgumentRangeError(`--lock-seconds must be in [1, 3600], got ${opts.lockSeconds}`);
      // BullMQ and pino load when a worker starts, not with every command.
      /* eslint-disable @typescript-eslint/no-require-imports */
      const pino = require('pino') as typeof import('pino');
      const { runWorker } = require('../../distributed/worker') as typeof import('../../distributed/worker');
      /* eslint-enable @typescript-eslint/no-require-imports */
      const log = pino.pino({ level: opts.logLevel, base: { name: 'shears-worker' } }, process.stdout);
      const { signal, dispose } = interruptSignal((cause) =>
        log.info({ signal: cause }, 'stopping after the running cell (stop again to quit at once: the cell is then left to another worker)'),
      );
      try {
        await runWorker({ queue, lockSeconds: opts.lockSeconds, signal, log });
      } finally {
        dispose();
      }
    });
}
