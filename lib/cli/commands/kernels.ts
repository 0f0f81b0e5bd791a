// `shears backends`: which native builds and devices this installation uses.
import { Command } from 'commander';

import { planBackend } from '../../backend';
import { addon } from '../../native/binding';
import { backendsInfo, poolThreads } from '../../kernels';

export function register(program: Command): void {
  program
    .command('backends')
    .description('show the native build in use, CUDA availability, what --backend auto uses, and thread count')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const a = addon();
      // What `--backend auto` (the default of prune, sweep, demo and eval) runs on here.
      const auto = planBackend('auto');
      const info = { build: a.flavour, path: a.path, note: a.note, threads: poolThreads(), ...backendsInfo(), auto: auto.device, autoNote: auto.note };
      if (opts.json) process.stdout.write(`${JSON.stringify(info)}\n`);
      else for (const [k, v] of Object.entries(info)) process.stdout.write(`${k}: ${String(v)}\n`);
    });
}
