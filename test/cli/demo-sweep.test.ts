// `shears demo` sweeps every implemented method on the embedded model (formula needs the
// user's --score: shears paper runs it with the searched winner). A method whose
// needs the demo's files cannot meet would stop the main job before its first cell:
// the demo's sweep options must pass the sweep's own checks for every method, and each
// learning method must get what it learns from (query-aware: text queries in --calib).
import * as path from 'node:path';

import { demoSweep } from '../../lib/cli/commands/demo';
import { METHODS } from '../../lib/methods/registry';
import { checkSweepOptions } from '../../lib/sweep/options';
import { ROOT, tempDir } from '../prune/helpers';

test("the demo's sweep options pass the sweep's checks, with every implemented method", () => {
  const o = demoSweep(path.join(ROOT, 'assets', 'demo-model'));
  expect(o.methods).toEqual(METHODS.filter((m) => m.implemented && m.name !== 'formula').map((m) => m.name));
  expect(o.methods).toEqual(expect.arrayContaining(['ewc', 'query-aware']));
  // The methods that train run at 50% (and N:M) only; the others at every level.
  expect(o.methodLevels).toEqual(Object.fromEntries(METHODS.filter((m) => m.implemented && m.slow).map((m) => [m.name, [0.5]])));
  expect(Object.keys(o.methodLevels!)).toEqual(expect.arrayContaining(['variational-dropout', 'query-aware', 'ewc']));
  const checked = checkSweepOptions({ ...o, out: path.join(tempDir(), 'demo') });
  expect(checked.methods).toEqual(o.methods);
  expect(checked.cells.filter((c) => c.method === 'query-aware').map((c) => c.pattern)).toEqual(['unstructured', '2:4', '4:8']);
  expect(o.calib).toMatch(/calib\.txt$/);
});
