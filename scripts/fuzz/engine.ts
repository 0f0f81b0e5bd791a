// The fuzz loop: targets in turn, one mutated case per iteration (deterministic for the
// fuzz seed), run in the runner process, tallied by outcome class; failures saved as
// reproducers and marked new when no committed regression case has their signature.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { saveReproducer, signatureOf, materialize } from './findings';
import { makeCase } from './mutate';
import { Rng } from './rng';
import { Runner, type RunnerOptions } from './runner';
import { loadSeeds } from './seeds';
import { isFailure, OUTCOME_CLASSES, type OutcomeClass, type Target } from './spec';

export interface FuzzOptions extends RunnerOptions {
  targets: Target[];
  /** Stop after this many seconds (checked between cases)... */
  seconds?: number;
  /** ...or after this many cases in all, whichever comes first. */
  iterations?: number;
  seed: string;
  /** Findings folder. */
  out: string;
  /** Signatures of the committed regression cases. */
  known: Set<string>;
  /** Reproducers kept per signature (the first few). */
  maxPerSignature: number;
  /** Use ../shared/data seeds when present. */
  shared: boolean;
  /** Keep the per-case log (for the determinism check). */
  record?: boolean;
  onCase?: (c: CaseLog) => void;
  /** Asked between cases: true ends the run early (Ctrl-C), with the summary so far. */
  shouldStop?: () => boolean;
}

export interface CaseLog {
  target: Target;
  iteration: number;
  seedName: string;
  mutations: string[];
  /** sha1 of the case's files, in name order. */
  digest: string;
  outcome: OutcomeClass;
}

export interface Finding {
  signature: string;
  target: Target;
  class: OutcomeClass;
  message: string;
  /** How many cases in this run had this signature. */
  count: number;
  /** Not among the committed regression cases. */
  isNew: boolean;
  reproducer: string;
  mutation: string;
}

export interface TargetTally {
  runs: number;
  outcomes: Record<OutcomeClass, number>;
  newFailures: number;
  /** The longest case that finished by itself (not killed), to see how close to the time limit loads come. */
  slowest?: { ms: number; iteration: number; mutations: string[] };
}

export interface FuzzReport {
  seed: string;
  seconds: number;
  runnerStarts: number;
  targets: Partial<Record<Target, TargetTally>>;
  findings: Finding[];
  cases?: CaseLog[];
}

function digestOf(files: Record<string, { data?: Buffer; link?: string }>): string {
  const h = createHash('sha1');
  for (const name of Object.keys(files).sort()) h.update(name).update(files[name].data ?? files[name].link ?? '');
  return h.digest('hex');
}

export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const seeds = loadSeeds({ shared: o.shared });
  const runner = new Runner(o);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-fuzz-'));
  const caseDir = path.join(work, 'case');
  const t0 = Date.now();
  const tallies: Partial<Record<Target, TargetTally>> = {};
  for (const t of o.targets) tallies[t] = { runs: 0, outcomes: Object.fromEntries(OUTCOME_CLASSES.map((c) => [c, 0])) as Record<OutcomeClass, number>, newFailures: 0 };
  const findings = new Map<string, Finding>();
  const cases: CaseLog[] = [];
  try {
    for (let i = 0; ; i++) {
      if (o.iterations !== undefined && i >= o.iterations) break;
      if (o.seconds !== undefined && Date.now() - t0 >= o.seconds * 1000) break;
      if (o.shouldStop?.()) break;
      const target = o.targets[i % o.targets.length];
      const iteration = Math.floor(i / o.targets.length);
      const pool = seeds.get(target) ?? [];
      if (pool.length === 0) continue;
      const r = Rng.forIteration(o.seed, target, iteration);
      const c = makeCase(pool[r.weighted(pool.map((s) => s.weight))], r);
      materialize(caseDir, c.files);
      const outcome = await runner.run(caseDir, c.seed.spec);
      const tally = tallies[target]!;
      tally.runs++;
      tally.outcomes[outcome.class]++;
      if (outcome.class !== 'timeout' && (!tally.slowest || outcome.ms > tally.slowest.ms)) tally.slowest = { ms: Math.round(outcome.ms), iteration, mutations: c.mutations };
      const log: CaseLog = { target, iteration, seedName: c.seed.name, mutations: c.mutations, digest: digestOf(c.files), outcome: outcome.class };
      if (o.record) cases.push(log);
      o.onCase?.(log);
      if (!isFailure(outcome.class)) continue;
      if (outcome.message) outcome.message = outcome.message.split(caseDir).join('<case>');
      const signature = signatureOf(target, outcome, c.mutations);
      let f = findings.get(signature);
      if (!f) {
        const isNew = !o.known.has(signature);
        if (isNew) tally.newFailures++;
        f = { signature, target, class: outcome.class, message: outcome.message ?? '', count: 0, isNew, reproducer: '', mutation: c.mutations.join('; ') };
        findings.set(signature, f);
      }
      f.count++;
      if (f.count <= o.maxPerSignature) {
        const dir = saveReproducer(o.out, c, { target, fuzzSeed: o.seed, iteration, spec: c.seed.spec, outcome, signature });
        if (f.count === 1) f.reproducer = dir;
      }
    }
  } finally {
    runner.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
  return {
    seed: o.seed,
    seconds: (Date.now() - t0) / 1000,
    runnerStarts: runner.starts,
    targets: tallies,
    findings: [...findings.values()],
    ...(o.record ? { cases } : {}),
  };
}
