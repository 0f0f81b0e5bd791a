// `shears demo` sweeps every implemented method on the embedded model. A method whose
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
  expect(o.methods).toEqual(METHODS.filter((m) => m.implemented).map((m) => m.name));
  expect(o.methods).toEqual(expect.arrayContaining(['ewc', 'query-aware']));
  const checked = checkSweepOptions({ ...o, out: path.join(tempDir(), 'demo') });
  expect(checked.methods).toEqual(o.methods);
  expect(o.calib).toMatch(/calib\.txt$/);
});
