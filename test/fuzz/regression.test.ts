// Replays every committed fuzz finding (test/fuzz/cases/<target>/<name>/): each must end
// in a typed error or a success, never an untyped error, a broken invariant, a timeout,
// memory over budget or a crash. A case whose fix has not landed says what it awaits.
import * as path from 'node:path';

import { committedCases, readReproducer } from '../../scripts/fuzz/findings';
import { replayCases } from '../../scripts/fuzz/replay';
import { Runner } from '../../scripts/fuzz/runner';
import { isFailure } from '../../scripts/fuzz/spec';

const cases = committedCases();
const runner = new Runner({ timeoutMs: 5000, memoryMb: 1024 });
afterAll(() => runner.close());

const label = (dir: string): string => {
  const { record } = readReproducer(dir);
  const name = path.relative(path.join(dir, '..', '..'), dir);
  return record.awaits ? `${name} [awaits ${record.awaits}]` : name;
};

test('there are committed cases to replay', () => {
  expect(cases.length).toBeGreaterThan(0);
});

test.each(cases.map((d) => [label(d), d]))('%s ends in a typed error or a success', async (_name, dir) => {
  const [r] = await replayCases([dir], runner);
  const o = r.outcome;
  if (isFailure(o.class)) {
    throw new Error(
      [
        `${o.class} (was ${r.record.outcome.class} when found): ${o.name ?? ''} ${o.message ?? ''}`,
        o.where ? `escaped from: ${o.where}` : '',
        `mutation: ${r.record.mutations.join('; ')}`,
        `reproducer: ${dir}  (npm run fuzz -- --replay ${path.relative(process.cwd(), dir)})`,
        r.record.awaits ? `awaits: ${r.record.awaits}` : '',
      ]
        .filter(Boolean)
        .join('\n'),
    );
  }
  expect(['success', 'typed']).toContain(o.class);
});
