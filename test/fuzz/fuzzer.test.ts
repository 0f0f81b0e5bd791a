// The fuzzer itself: the same seed gives the same cases and outcomes, different seeds
// give different cases, and the supervisor turns every way a case can go wrong (typed or
// untyped error, a spin, heap or buffer growth, an abort) into its outcome class while
// the fuzzer carries on with a fresh runner.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { runFuzz, type FuzzOptions } from '../../scripts/fuzz/engine';
import { Runner } from '../../scripts/fuzz/runner';
import { TARGETS, type HarnessBehaviour, type OutcomeClass } from '../../scripts/fuzz/spec';

const out = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-fuzz-test-'));
afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

const options = (seed: string): FuzzOptions => ({
  targets: [...TARGETS],
  iterations: 32,
  seed,
  out,
  known: new Set(),
  maxPerSignature: 1,
  shared: false,
  record: true,
  timeoutMs: 15000,
  memoryMb: 1024,
});

test('the same seed gives the same mutated inputs and the same outcomes; another seed gives other inputs', async () => {
  const a = await runFuzz(options('smoke-1'));
  const b = await runFuzz(options('smoke-1'));
  const c = await runFuzz({ ...options('smoke-2'), iterations: 8 });
  expect(a.cases).toHaveLength(32);
  for (const t of TARGETS) expect(a.targets[t]!.runs).toBe(8);
  expect(b.cases).toEqual(a.cases);
  // Every case is a different input, and another seed does not replay this one.
  expect(new Set(a.cases!.map((x) => x.digest)).size).toBeGreaterThan(28);
  expect(c.cases!.map((x) => x.digest)).not.toEqual(a.cases!.slice(0, 8).map((x) => x.digest));
  expect(a.cases!.every((x) => x.mutations.length >= 1)).toBe(true);
});

describe('the supervisor classifies each way a case can end, and survives it', () => {
  const runner = new Runner({ timeoutMs: 3000, memoryMb: 256 });
  afterAll(() => runner.close());
  const expected: [HarnessBehaviour, OutcomeClass][] = [
    ['succeed', 'success'],
    ['throw-typed', 'typed'],
    ['throw-untyped', 'untyped'],
    ['spin', 'timeout'],
    ['grow-buffers', 'memory'],
    ['grow-heap', 'memory'],
    ['abort', 'crash'],
    ['succeed', 'success'],
  ];
  test.each(expected)('%s -> %s', async (behave, cls) => {
    const o = await runner.run(out, { kind: 'harness-check', behave });
    expect(o.class).toBe(cls);
  });
  test('killed runners were replaced (one start per kill, plus the first)', () => {
    // spin, grow-buffers, grow-heap and abort each end the runner.
    expect(runner.starts).toBe(5);
  });
});
