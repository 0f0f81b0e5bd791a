// Lets `node -r scripts/fuzz/ts-hook.js scripts/fuzz/child.ts` run the fuzzer's runner
// straight from the TypeScript sources (as the jest tests do), so that replayed cases
// exercise the current lib/ and not a stale dist/. Transpiles only, no type checking;
// the output is cached by path, size and mtime so that a respawned runner starts fast.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

let ts;
const options = () => ({ module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, inlineSourceMap: true });
const cacheDir = path.join(os.tmpdir(), `shears-fuzz-ts-cache-${process.getuid ? process.getuid() : 'u'}`);

function transpile(filename) {
  const st = fs.statSync(filename);
  const key = crypto.createHash('sha1').update(`${filename}\0${st.size}\0${st.mtimeMs}`).digest('hex');
  const cached = path.join(cacheDir, `${key}.js`);
  try {
    return fs.readFileSync(cached, 'utf8');
  } catch {
    /* not cached yet */
  }
  ts ??= require('typescript');
  const out = ts.transpileModule(fs.readFileSync(filename, 'utf8'), { compilerOptions: options(), fileName: filename }).outputText;
  try {
    fs.mkdirSync(cacheDir, { recursive: true });
    const tmp = `${cached}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, out);
    fs.renameSync(tmp, cached);
  } catch {
    /* the cache is an optimisation only */
  }
  return out;
}

require.extensions['.ts'] = function compileTs(module, filename) {
  module._compile(transpile(filename), filename);
};
