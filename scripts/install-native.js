#!/usr/bin/env node
// npm install hook: use a prebuilt binary when one fits this machine (node-gyp-build
// finds and loads it), otherwise compile the addon from source with cmake-js.
// SHEARS_BUILD_FROM_SOURCE=1 always compiles; SHEARS_CUDA=1 also builds the CUDA
// variant (needs nvcc) into build-cuda/.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

/** The path of a build that loads here (prebuilds/ or an earlier local build), or undefined. */
function loadableBuild() {
  if (process.env.SHEARS_BUILD_FROM_SOURCE === '1') return undefined;
  try {
    const file = require('node-gyp-build').resolve(root);
    require(file);
    return path.relative(root, file);
  } catch {
    return undefined;
  }
}

function run(args) {
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const r = spawnSync(process.execPath, [cmakeJs, ...args], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`shears: building the native addon failed (cmake-js ${args.join(' ')}).`);
    console.error('shears: it needs cmake >= 3.18 and a C++17 compiler; see README.md.');
    process.exit(r.status || 1);
  }
}

const found = loadableBuild();
if (found && found.startsWith('prebuilds')) {
  console.log(`shears: using the prebuilt native addon ${found}; nothing to compile`);
} else if (found) {
  console.log(`shears: using the existing local build ${found}; nothing to compile`);
} else {
  console.log('shears: no prebuilt addon fits this machine; compiling from source (needs cmake >= 3.18 and a C++17 compiler)');
  run(['compile']);
}
if (process.env.SHEARS_CUDA === '1') require('./build-cuda.js');
