// Item 2 of issue 9: when no addon loads, the error says what to run, not only where
// node-gyp-build looked.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BackendError } from '../../lib/errors';
import { loadCpuBuild } from '../../lib/native/binding';

function tempRoot(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'shears-no-addon-'));
}

function expectRebuildHint(run: () => unknown): BackendError {
  let caught: unknown;
  try {
    run();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(BackendError);
  const err = caught as BackendError;
  expect(err.code).toBe('E_BACKEND');
  expect(err.message).toContain('npm install');
  expect(err.message).toContain('npm rebuild shears');
  expect(err.message).toMatch(/cmake .* C\+\+17 compiler/);
  return err;
}

describe('loading the addon from a package without one', () => {
  test('no build and no prebuild: names the platform and the folder, and says what to run', () => {
    const root = tempRoot();
    try {
      const err = expectRebuildHint(() => loadCpuBuild(root));
      expect(err.message).toContain(`${process.platform}-${process.arch}`);
      expect(err.message).toContain(root);
      // node-gyp-build's own message (its search path) stays reachable as the cause.
      expect((err.cause as Error).message).toMatch(/No native build was found/);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('a prebuild that is not a loadable addon: names the file, says what to run', () => {
    const root = tempRoot();
    const file = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'shears.node');
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, 'not an ELF file');
      const err = expectRebuildHint(() => loadCpuBuild(root));
      expect(err.message).toContain(file);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
