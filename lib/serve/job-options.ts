// A job's options, read with the CLI's own definitions: the JSON body's keys are the
// command's long option names camelCased (as commander's opts() gives them), turned
// back into an argv and parsed by the very `shears <kind>` command of lib/cli, so every
// parser, choice list, default and required option of the CLI applies to the API too.
// Then the path options are confined to the server's roots and the library's own
// checks run, so a bad request is refused before it is queued.
import * as fs from 'node:fs';

import { Command, CommanderError, Option } from 'commander';

import { ArgumentRangeError } from '../errors';
import { checkEvaluateOptions } from '../eval/run-eval';
import { checkPaperOptions } from '../paper/plan';
import { checkPruneOptions } from '../prune/options';
import { checkSweepOptions } from '../sweep/options';
import { buildProgram } from '../cli/main';
import { collect } from '../cli/parse';
import { Roots } from './roots';

export const JOB_KINDS = ['prune', 'eval', 'sweep', 'paper'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/** Options of the CLI a job does not take, and why (what the API offers instead). */
export const NOT_FOR_JOBS: Record<string, string> = {
  json: 'it is for the terminal: the report is served as JSON at GET /jobs/{id}/report',
  // A client could make the server connect to any host it names.
  queue: "a job may not make the server connect to a Redis of the client's choosing: run distributed sweeps with `shears sweep --queue` (docs/distributed.md)",
};

/** The 400 message for a refused option. */
export const notForJobs = (key: string): string => `option '${key}' is not taken by a job: ${NOT_FOR_JOBS[key]}`;

/** The `shears <kind>` command of a fresh CLI program (each parse gets its own: commander keeps parsed values on it). */
export function cliCommand(kind: JobKind): Command {
  const command = buildProgram().commands.find((c) => c.name() === kind);
  if (!command) throw new Error(`the CLI has no ${kind} command`);
  return command;
}

/** The options a job of this kind takes: the command's, less NOT_FOR_JOBS. */
export function jobOptions(command: Command): Option[] {
  return command.options.filter((o) => !(o.attributeName() in NOT_FOR_JOBS));
}

/** `--flag` without a value. */
export const isFlag = (o: Option): boolean => !o.required && !o.optional;

/** A value option that names a file or folder: its placeholder says so (`--model <path>`, `--calib <file>`, `--out <dir>`). */
export const isPathOption = (o: Option): boolean => !isFlag(o) && o.argChoices === undefined && /<(path|file|dir)>/.test(o.flags);

const describeKey = (o: Option) => `${o.attributeName()} (${o.long})`;

/** The argv that gives `body` to the command: `--long=value` (so a value starting with '-' stays a value). */
function toArgv(kind: JobKind, command: Command, body: Record<string, unknown>): string[] {
  const byKey = new Map(jobOptions(command).map((o) => [o.attributeName(), o]));
  const argv: string[] = [];
  for (const [key, value] of Object.entries(body)) {
    if (key === 'kind' || value === undefined) continue;
    if (key in NOT_FOR_JOBS) throw new ArgumentRangeError(notForJobs(key), 'E_OPTION');
    const option = byKey.get(key);
    if (!option) throw new ArgumentRangeError(`unknown option '${key}' for a ${kind} job (the options are those of \`shears ${kind}\`, camelCased)`, 'E_OPTION');
    const long = option.long!;
    if (isFlag(option)) {
      if (typeof value !== 'boolean') throw new ArgumentRangeError(`${describeKey(option)} is a flag: give true or false`, 'E_OPTION');
      if (value) argv.push(long);
    } else if (Array.isArray(value)) {
      // Repeatable options (--include a --include b) take the array as repetitions; list options ("a,b") as one list.
      if (option.parseArg === collect) for (const v of value) argv.push(`${long}=${String(v)}`);
      else argv.push(`${long}=${value.map(String).join(',')}`);
    } else if (typeof value === 'string' || typeof value === 'number') argv.push(`${long}=${String(value)}`);
    else throw new ArgumentRangeError(`${describeKey(option)}: give a string or a number, got ${value === null ? 'null' : typeof value}`, 'E_OPTION');
  }
  return argv;
}

/** The options commander gives the command's action for this body; its messages become typed errors. */
async function parseWithCli(kind: JobKind, command: Command, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const argv = toArgv(kind, command, body);
  let parsed: Record<string, unknown> | undefined;
  command.action((opts: Record<string, unknown>) => {
    parsed = opts;
  });
  // Commander prints its errors and help; here they travel in the error instead.
  command.configureOutput({ writeOut: () => undefined, writeErr: () => undefined, outputError: () => undefined });
  command.showHelpAfterError(false);
  try {
    await command.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) throw new ArgumentRangeError(e.message.replace(/^error: /, ''), 'E_OPTION');
    throw e;
  }
  if (!parsed) throw new Error(`the ${kind} command did not run its action`);
  return parsed;
}

/** Resolves every path option inside the roots; inputs (all but --out) must exist. */
function confinePaths(command: Command, opts: Record<string, unknown>, roots: Roots): void {
  for (const option of command.options.filter(isPathOption)) {
    const key = option.attributeName();
    const value = opts[key];
    if (typeof value !== 'string') continue;
    const resolved = roots.resolve(describeKey(option), value, { output: key === 'out' });
    if (key !== 'out' && !fs.existsSync(resolved)) throw new ArgumentRangeError(`${describeKey(option)} ${value} does not exist`, 'E_OPTION');
    opts[key] = resolved;
  }
}

/** The library's checks of each kind that need no model: the errors a CLI run would give before any work. */
const LIBRARY_CHECKS: Record<JobKind, (o: never) => unknown> = {
  prune: checkPruneOptions,
  eval: checkEvaluateOptions,
  sweep: checkSweepOptions,
  paper: checkPaperOptions,
};

/**
 * The library options of a job (paths absolute, inside the roots), or a typed error
 * (ArgumentRangeError, or the library's own) saying what is wrong with the request.
 */
export async function readJobOptions(kind: JobKind, body: Record<string, unknown>, roots: Roots): Promise<Record<string, unknown>> {
  if (!(JOB_KINDS as readonly string[]).includes(kind)) throw new ArgumentRangeError(`unknown job kind '${String(kind)}': one of ${JOB_KINDS.join(', ')}`, 'E_OPTION');
  const command = cliCommand(kind);
  const opts = await parseWithCli(kind, command, body);
  confinePaths(command, opts, roots);
  (LIBRARY_CHECKS[kind] as (o: Record<string, unknown>) => unknown)(opts);
  return opts;
}
