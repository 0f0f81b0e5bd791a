// Compute code is free of N-API: only native/bindings/ includes napi.h (CMakeLists.txt
// checks the same at configure time). The CUDA self-test builds from core/, cpu/ and
// cuda/ without Node headers because of it.
import * as fs from 'node:fs';
import * as path from 'node:path';

const native = path.resolve(__dirname, '..', '..', 'native');
const NAPI_INCLUDE = /^[ \t]*#[ \t]*include[ \t]*[<"](napi|node_api)/m;

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p) : [p];
  });
}

test('the pattern finds an N-API include and ignores a mention', () => {
  expect(NAPI_INCLUDE.test('#include <cstdint>\n#include <napi.h>\n')).toBe(true);
  expect(NAPI_INCLUDE.test('#  include "node_api.h"')).toBe(true);
  expect(NAPI_INCLUDE.test('// no napi.h here\n#include "core/dtype.h"')).toBe(false);
});

test('native/core, native/cpu and native/cuda include no N-API header', () => {
  const compute = ['core', 'cpu', 'cuda'].flatMap((d) => files(path.join(native, d)));
  expect(compute.length).toBeGreaterThan(40);
  const offenders = compute.filter((f) => NAPI_INCLUDE.test(fs.readFileSync(f, 'utf8'))).map((f) => path.relative(native, f));
  expect(offenders).toEqual([]);
});

test('the bindings are where N-API is used', () => {
  const bindings = files(path.join(native, 'bindings')).filter((f) => NAPI_INCLUDE.test(fs.readFileSync(f, 'utf8')));
  expect(bindings.length).toBeGreaterThan(5);
});
