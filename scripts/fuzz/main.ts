// npm run fuzz -- --target gguf|safetensors|llama2c|tokenizer|all --seconds N --seed S [--json]
// Mutation fuzzer over the model and tokenizer loaders. Exit status 1 when it finds a
// failure (untyped, invalid, timeout, memory, crash) whose signature no committed
// regression case (test/fuzz/cases) has: the reproducer path is printed with it.
import { Command, Option } from 'commander';
import * as path from 'node:path';

import { runFuzz } from './engine';
import { knownSignatures, promoteReproducer } from './findings';
import { formatReport, reportJson } from './report';
import { replayCases } from './replay';
import { Runner } from './runner';
import { isFailure, TARGETS, type Target } from './spec';

interface Cli {
  target: string;
  seconds: string;
  iterations?: string;
  seed?: string;
  out: string;
  timeoutMs: string;
  memoryMb: string;
  maxPerSignature: string;
  json?: boolean;
  shared: boolean;
  failOn: 'new' | 'any' | 'never';
  replay?: string[];
  promote?: string;
  name?: string;
  awaits?: string;
}

function positive(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${JSON.stringify(v)}`);
  return n;
}

async function replay(dirs: string[], o: Cli): Promise<number> {
  const runner = new Runner({ timeoutMs: positive('timeout-ms', o.timeoutMs), memoryMb: positive('memory-mb', o.memoryMb) });
  try {
    const results = await replayCases(dirs, runner);
    if (o.json) console.log(JSON.stringify(results.map((r) => ({ dir: r.dir, outcome: r.outcome })), null, 2));
    else for (const r of results) console.log(`${r.outcome.class.padEnd(8)} ${r.dir}: ${r.outcome.name ?? ''} ${r.outcome.message ?? ''}`.trimEnd());
    return results.some((r) => isFailure(r.outcome.class)) ? 1 : 0;
  } finally {
    runner.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const program = new Command('fuzz')
    .description('mutation fuzzer over the model and tokenizer loaders')
    .addOption(new Option('--target <name>', 'what to fuzz').choices([...TARGETS, 'all']).default('all'))
    .option('--seconds <n>', 'stop after this long (checked between cases)', '60')
    .option('--iterations <n>', 'stop after this many cases in all')
    .option('--seed <s>', 'fuzz seed (any string); the same seed gives the same cases (default: the time)')
    .option('--out <dir>', 'where reproducers are saved', 'fuzz-findings')
    .option('--timeout-ms <n>', 'limit on one case', '5000')
    .option('--memory-mb <n>', 'limit on the runner process resident memory', '1024')
    .option('--max-per-signature <n>', 'reproducers kept per distinct failure', '3')
    .option('--json', 'print the summary as one JSON object')
    .option('--no-shared', 'do not use ../shared/data seeds')
    .addOption(new Option('--fail-on <when>', 'exit 1 on new failures, any failure, or never').choices(['new', 'any', 'never']).default('new'))
    .option('--replay <dirs...>', 'rerun saved reproducers instead of fuzzing')
    .option('--promote <dir>', 'copy a reproducer into test/fuzz/cases/<target>/<--name> as a regression case')
    .option('--name <name>', 'the regression case name for --promote')
    .option('--awaits <fix>', 'with --promote: the fix a still-failing case waits for')
    .exitOverride();
  program.parse(argv);
  const o = program.opts<Cli>();
  if (o.replay) return replay(o.replay, o);
  if (o.promote) {
    if (!o.name || !/^[\w.-]+$/.test(o.name)) throw new Error('--promote needs --name <letters, digits, . _ ->');
    console.log(promoteReproducer(o.promote, o.name, o.awaits));
    return 0;
  }
  const seed = o.seed ?? String(Date.now() % 1000000);
  // Ctrl-C ends the run after the case in flight and still prints the summary.
  let stop = false;
  process.once('SIGINT', () => (stop = true));
  const report = await runFuzz({
    targets: o.target === 'all' ? [...TARGETS] : [o.target as Target],
    seconds: positive('seconds', o.seconds),
    iterations: o.iterations === undefined ? undefined : positive('iterations', o.iterations),
    seed,
    out: path.resolve(o.out),
    timeoutMs: positive('timeout-ms', o.timeoutMs),
    memoryMb: positive('memory-mb', o.memoryMb),
    maxPerSignature: positive('max-per-signature', o.maxPerSignature),
    known: knownSignatures(),
    shared: o.shared,
    shouldStop: () => stop,
  });
  console.log(o.json ? reportJson(report) : formatReport(report));
  const failures = report.findings.filter((f) => o.failOn === 'any' || f.isNew);
  return o.failOn !== 'never' && failures.length > 0 ? 1 : 0;
}

main(process.argv).then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    if ((e as { code?: string }).code?.startsWith('commander.')) {
      process.exitCode = (e as { exitCode?: number }).exitCode ?? 2;
      return;
    }
    console.error(`fuzz: ${(e as Error).message}`);
    process.exitCode = 2;
  },
);
