// `shears sweep` on the command line: the summary table, --json, the guard against
// overwriting a sweep, and --resume.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { spawnSync } from 'node:child_process';

import { parseResults } from '../../lib/report';
import { currentOwner, scratchPrefix } from '../../lib/util/scratch';
import { describeShared, sharedPath } from '../support/shared-data';
import { runCli } from '../support/cli';

let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-sweep-cli-'))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const run = runCli;

describeShared('shears sweep (CLI)', () => {
  test('summary table, --json, guard and --resume', async () => {
    const evalText = path.join(dir, 'eval.txt');
    fs.writeFileSync(evalText, fs.readFileSync(sharedPath('text', 'tinystories', 'tinystories_val.txt'), 'utf8').slice(0, 10000));
    const out = path.join(dir, 'sweep');
    const args = [
      'sweep',
      '--model', sharedPath('models', 'stories260K', 'stories260K.bin'),
      '--methods', 'magnitude',
      '--levels', '0.2,0.6',
      '--patterns', 'unstructured,2:4',
      '--eval', evalText,
      '--eval-seq-len', '64',
      '--max-windows', '2',
      '--out', out,
    ]; // prettier-ignore
    const first = await run(args);
    expect(first.err).not.toMatch(/^shears:/m);
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/^perplexity\s+0\.2\s+0\.5\s+0\.6$/m);
    expect(first.out).toMatch(/^magnitude unstructured\s+[\d.]+\s+[\d.]+$/m);
    expect(first.out).toMatch(/^magnitude 2:4\s+[\d.]+$/m);
    expect(first.out).toMatch(/3 cells computed, 0 reused/);
    expect(first.out).toContain(path.join(out, 'report.html'));

    const again = await run(args);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/already holds a sweep: use --resume/);

    // Scratch left in the cache by a killed run: removed by the next run, which says so
    // on stderr and in the results' notes.
    const dead = { ...currentOwner(), pid: spawnSync(process.execPath, ['-e', '0']).pid! };
    fs.writeFileSync(path.join(out, 'cells', `${scratchPrefix(dead)}0123abcd`), '{"half": ');
    const resumed = await run([...args, '--resume', '--json']);
    expect(resumed.code).toBe(0);
    const removed = `removed 1 scratch entry left in ${path.join(out, 'cells')} by stopped runs (process ${dead.pid}, no longer running)`;
    expect(resumed.err).toContain(`shears: warning: ${removed}\n`);
    expect(fs.readdirSync(path.join(out, 'cells')).filter((f) => f.startsWith('.shears-tmp-'))).toEqual([]);
    const r = parseResults(resumed.out);
    expect(r.settings.notes).toContain(removed);
    expect(r.cells).toHaveLength(3);
    expect(r.settings.cells_reused).toBe(3);
    expect(r.settings.cells_computed).toBe(0);
  });
});
