// The typed view of the addon (lib/native/addon.ts) and the addon's real exports
// describe the same functions: same names, and each function's parameter count
// (set natively by export_function, declared in ADDON_ARITY, which the compiler ties
// to the ShearsAddon interface).
import { ADDON_ARITY } from '../../lib/native/addon';
import { addon } from '../../lib/native/binding';

const real = addon().module;

test('every export of the addon is in the typed view, and every name of the view is exported', () => {
  const exported = Object.keys(real).sort();
  const typed = Object.keys(ADDON_ARITY).sort();
  expect(exported.filter((n) => !typed.includes(n))).toEqual([]);
  expect(typed.filter((n) => !exported.includes(n))).toEqual([]);
  expect(exported.length).toBeGreaterThan(20);
});

test('every export is a function taking the parameters the typed view declares', () => {
  const wrong: string[] = [];
  for (const [name, arity] of Object.entries(ADDON_ARITY)) {
    const fn = real[name];
    if (typeof fn !== 'function') wrong.push(`${name}: ${typeof fn}`);
    else if (fn.length !== arity) wrong.push(`${name}: native ${fn.length}, typed ${arity}`);
  }
  expect(wrong).toEqual([]);
});
