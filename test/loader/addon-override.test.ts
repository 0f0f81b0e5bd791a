// SHEARS_ADDON makes the loader take one named build (npm run test:asan points it at
// build-asan/); each case loads lib/native/binding afresh because addon() caches.
import * as path from 'node:path';
import type * as Binding from '../../lib/native/binding';

function loadWith(value: string | undefined): Binding.LoadedAddon {
  const saved = process.env.SHEARS_ADDON;
  if (value === undefined) delete process.env.SHEARS_ADDON;
  else process.env.SHEARS_ADDON = value;
  try {
    let result: Binding.LoadedAddon | undefined;
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      result = (require('../../lib/native/binding') as typeof Binding).addon();
    });
    return result!;
  } finally {
    if (saved === undefined) delete process.env.SHEARS_ADDON;
    else process.env.SHEARS_ADDON = saved;
  }
}

test('SHEARS_ADDON loads the named build and says so', () => {
  const usual = loadWith(undefined).path;
  const relative = path.relative(process.cwd(), usual);
  const a = loadWith(relative);
  expect(a.path).toBe(path.resolve(relative));
  expect(a.flavour).toBe('cpu');
  expect(a.note).toBe(`SHEARS_ADDON=${relative}`);
  expect(typeof a.module.backends).toBe('function');
});

test('a SHEARS_ADDON that does not exist is an error naming the path', () => {
  const missing = path.join(process.cwd(), 'no-such-build', 'shears.node');
  expect(() => loadWith(missing)).toThrow(`SHEARS_ADDON=${missing} but ${missing} does not exist`);
});
