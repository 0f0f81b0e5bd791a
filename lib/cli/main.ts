// The `shears` command line. Each command lives in lib/cli/commands/<name>.ts and
// exports register(program). Errors print one line naming the problem (and the file)
// and set a non-zero exit code; --debug prints the stack too. A stop (SIGINT, SIGTERM,
// SIGHUP, a closed pipe: ./signals) ends with 128 + the signal number.
import { Command, CommanderError } from 'commander';

import { register as registerConvert } from './commands/convert';
import { register as registerDemo } from './commands/demo';
import { register as registerFinetune } from './commands/finetune';
import { register as registerInfo } from './commands/info';
import { register as registerKernels } from './commands/kernels';
import { register as registerModelCommands } from './commands/model-commands';
import { register as registerPaper } from './commands/paper';
import { register as registerPrune } from './commands/prune';
import { register as registerQueries } from './commands/queries';
import { register as registerSearchFormula } from './commands/search-formula';
import { register as registerServe } from './commands/serve';
import { register as registerStats } from './commands/stats';
import { register as registerSweep } from './commands/sweep';
import { register as registerWorker } from './commands/worker';
import { shearsVersion } from '../prune/report';
import { tokenizerArtifacts } from '../tokenizer/artifacts';
import { installStopHandlers, stopReceived } from './signals';

export function buildProgram(): Command {
  const program = new Command('shears')
    .description('Static pruning of large language models for the queries your users send')
    .version(shearsVersion(), '-V, --version', 'print the version of shears')
    .option('--debug', 'print stack traces on errors')
    .showHelpAfterError()
    .exitOverride();
  registerInfo(program);
  registerModelCommands(program);
  registerConvert(program, { tokenizerArtifacts: (src) => tokenizerArtifacts(src) });
  registerPrune(program);
  registerStats(program);
  registerQueries(program);
  registerFinetune(program);
  registerDemo(program);
  registerSweep(program);
  registerWorker(program);
  registerSearchFormula(program);
  registerPaper(program);
  registerServe(program);
  registerKernels(program);
  return program;
}

/** Runs the CLI; resolves with the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const uninstall = installStopHandlers();
  try {
    await program.parseAsync(argv);
    return stopReceived()?.exitCode ?? 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    // Whatever surfaced while stopping (the abort reason, or an error of the work cut short), the stop is the news.
    const stopped = stopReceived();
    const err = (stopped ?? e) as Error & { exitCode?: unknown };
    if (stopped?.stopCause !== 'SIGPIPE') process.stderr.write(`shears: ${err.message}\n`);
    if (program.opts().debug && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    return typeof err.exitCode === 'number' ? err.exitCode : 1;
  } finally {
    uninstall();
  }
}
