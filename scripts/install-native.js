#!/usr/bin/env node
// npm install hook: use a prebuilt binary when one fits this machine (node-gyp-build
// finds and loads it), otherwise compile the addon from source with cmake-js.
// SHEARS_BUILD_FROM_SOURCE=1 always compiles; SHEARS_CUDA=1 also builds the CUDA
// variant (needs nvcc) into build-cuda/.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

function prebuildLoads() {
  if (process.env.SHEARS_BUILD_FROM_SOURCE === '1') return false;
  try {
    require('node-gyp-build')(root);
    return true;
  } catch {
    return false;
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

if (prebuildLoads()) {
  console.log('shears: using the prebuilt native addon');
} else {
  console.log('shears: no prebuilt addon fits this machine; compiling from source');
  run(['compile']);
}
if (process.env.SHEARS_CUDA === '1') require('./build-cuda.js');
