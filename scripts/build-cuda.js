#!/usr/bin/env node
// Builds the CUDA variant of the addon (CPU + CUDA backends, CUDA runtime linked
// statically) into build-cuda/Release/shears.node. The loader uses it only when a
// CUDA device is present. Architectures default to 75;80;86;89;90 and can be set
// with CUDA_ARCHITECTURES="90" for a faster build.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const nvcc = process.env.CUDACXX || (fs.existsSync('/usr/local/cuda/bin/nvcc') ? '/usr/local/cuda/bin/nvcc' : 'nvcc');
const args = [require.resolve('cmake-js/bin/cmake-js'), 'compile', '--out', 'build-cuda', '--CDSHEARS_CUDA=ON', `--CDCMAKE_CUDA_COMPILER=${nvcc}`];
// Always pass the list: CMake caches it, so a narrowed build would otherwise stick.
args.push(`--CDCMAKE_CUDA_ARCHITECTURES=${process.env.CUDA_ARCHITECTURES || '75;80;86;89;90'}`);
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error('shears: the CUDA build failed (is nvcc installed? set CUDACXX to its path)');
  process.exit(r.status || 1);
}
