#!/usr/bin/env node
// prebuildify knows only node-gyp: it runs this script in its place ("rebuild
// --target=... --release") and then takes build/Release/*.node. We build with cmake-js,
// incrementally ("compile"): N-API 8 needs no per-target headers, and npm pack right
// after npm install then reuses that build instead of compiling everything again.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const r = spawnSync(process.execPath, [require.resolve('cmake-js/bin/cmake-js'), 'compile'], { cwd: root, stdio: 'inherit' });
process.exit(r.status === null ? 1 : r.status);
