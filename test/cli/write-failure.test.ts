// An output folder the user cannot write (issue 9, item 10): prune and convert say which
// output and folder, with the system's reason, and never name an internal temp file
// (.shears-tmp-*). Root writes anywhere, so as root the real CLI runs as `nobody`
// (setpriv); as another user the folder is made read-only and the CLI runs in process.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { runCli } from '../support/cli';
import { CLI, ensureCliBuilt, ROOT, tempDir } from '../prune/helpers';

const DEMO = path.join(ROOT, 'assets', 'demo-model');
const root = process.getuid?.() === 0;
const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => fs.existsSync(p));
const NOBODY = 65534;

async function shears(args: string[]): Promise<{ code: number; err: string }> {
  if (!root) return runCli(args);
  const r = spawnSync(setpriv!, [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, CLI, ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status ?? -1, err: r.stderr };
}

const usable = !root || setpriv !== undefined;
const testUsable = usable ? test : test.skip;
if (!usable) test('write failures (skipped: root without setpriv cannot lose write permission)', () => undefined);

let folder: string;
beforeAll(() => {
  if (root) ensureCliBuilt();
  // Readable and searchable by everyone (nobody must reach it), writable by none.
  folder = path.join(tempDir('shears-cli-ro-'), 'read-only');
  fs.mkdirSync(folder);
  fs.chmodSync(path.dirname(folder), 0o755);
  fs.chmodSync(folder, 0o555);
}, 180_000); // a stale dist/ is rebuilt first (tsc: far longer than jest's 5 s default)
afterAll(() => fs.existsSync(folder) && fs.chmodSync(folder, 0o755));

testUsable.each([
  ['prune', (out: string) => ['prune', '--model', DEMO, '--method', 'magnitude', '--sparsity', '0.5', '--out', out], 'out'],
  ['prune to GGUF', (out: string) => ['prune', '--model', DEMO, '--method', 'magnitude', '--sparsity', '0.5', '--out', out], 'out.gguf'],
  ['convert', (out: string) => ['convert', '--model', DEMO, '--out', out], 'out.gguf'],
])('%s into a read-only folder: an error naming the output and its folder', async (_label, args, name) => {
  const out = path.join(folder, name);
  const r = await shears(args(out));
  expect(r.code).toBe(1);
  expect(r.err).toBe(`shears: cannot write ${out} (in ${folder}): EACCES: permission denied\n`);
  expect(r.err).not.toMatch(/shears-tmp|mkdtemp/);
  expect(fs.readdirSync(folder)).toEqual([]);
});
