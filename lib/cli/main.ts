// The `shears` command line. Each command lives in lib/cli/commands/<name>.ts and
// exports register(program). Errors print one line naming the problem (and the file)
// and set a non-zero exit code; --debug prints the stack too.
import { Command, CommanderError } from 'commander';

import { register as registerConvert } from './commands/convert';
import { register as registerDemo } from './commands/demo';
import { register as registerInfo } from './commands/info';
import { register as registerKernels } from './commands/kernels';
import { register as registerModelCommands } from './commands/model-commands';
import { register as registerPrune } from './commands/prune';
import { register as registerSweep } from './commands/sweep';
import { tokenizerArtifacts } from '../tokenizer/artifacts';

export function buildProgram(): Command {
  const program = new Command('shears')
    .description('Static pruning of large language models for the queries your users send')
    .option('--debug', 'print stack traces on errors')
    .showHelpAfterError()
    .exitOverride();
  registerInfo(program);
  registerModelCommands(program);
  registerConvert(program, { tokenizerArtifacts: (src) => tokenizerArtifacts(src) });
  registerPrune(program);
  registerDemo(program);
  registerSweep(program);
  registerKernels(program);
  return program;
}

/** Runs the CLI; resolves with the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    const err = e as Error & { code?: string };
    process.stderr.write(`shears: ${err.message}\n`);
    if (program.opts().debug && err.stack) process.stderr.write(`${err.stack}\n`);
    return typeof (e as { exitCode?: unknown }).exitCode === 'number' ? (e as { exitCode: number }).exitCode : 1;
  }
}
