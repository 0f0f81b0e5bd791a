#!/usr/bin/env node
// npm run prebuild (and npm pack, through prepack): writes the binaries the package
// ships. prebuilds/<platform>-<arch>/shears.node is the CPU build (prebuildify, with
// scripts/prebuildify-cmake.js standing in for node-gyp); prebuilds/<platform>-<arch>-cuda/
// gets the CUDA build when nvcc is found (SHEARS_PREBUILD_CUDA=0 skips it, =1 requires it).
// lib/native/binding.ts picks between them at load time.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const platform = `${process.platform}-${process.arch}`;

function run(cmd, args, env = process.env) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0) {
    console.error(`shears prebuild: ${path.basename(cmd)} ${args.join(' ')} failed`);
    process.exit(r.status || 1);
  }
}

/** nvcc's path, or undefined; the same lookup as scripts/build-cuda.js. */
function findNvcc() {
  const candidates = [process.env.CUDACXX, '/usr/local/cuda/bin/nvcc', 'nvcc'].filter(Boolean);
  return candidates.find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);
}

/** Copies `from` to `to` through a temporary name, so a reader never sees half a binary. */
function copyAtomic(from, to) {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  const tmp = `${to}.tmp-${process.pid}`;
  fs.copyFileSync(from, tmp);
  fs.renameSync(tmp, to);
}

const prebuildify = require.resolve('prebuildify/bin.js');
run(process.execPath, [prebuildify, '--napi', '--strip', '--node-gyp', path.join('scripts', 'prebuildify-cmake.js')]);
const cpu = path.join(root, 'prebuilds', platform, 'shears.node');
// prebuildify moves build/Release/shears.node into prebuilds/: put a copy back so the
// working copy keeps a loadable addon (tests, the CLI from the source tree).
copyAtomic(cpu, path.join(root, 'build', 'Release', 'shears.node'));
console.log(`shears prebuild: CPU addon in ${path.relative(root, cpu)} (${fs.statSync(cpu).size} bytes)`);

const wantCuda = process.env.SHEARS_PREBUILD_CUDA;
const nvcc = wantCuda === '0' ? undefined : findNvcc();
const cuda = path.join(root, 'prebuilds', `${platform}-cuda`, 'shears.node');
if (!nvcc) {
  // A CUDA build left from an earlier run would ship stale: the package carries none.
  fs.rmSync(path.dirname(cuda), { recursive: true, force: true });
  if (wantCuda === '1') {
    console.error('shears prebuild: SHEARS_PREBUILD_CUDA=1 but no nvcc was found (set CUDACXX to its path)');
    process.exit(1);
  }
  console.log('shears prebuild: no nvcc found; the package carries no CUDA build');
  process.exit(0);
}
run(process.execPath, [path.join(__dirname, 'build-cuda.js')], { ...process.env, CUDACXX: nvcc });
copyAtomic(path.join(root, 'build-cuda', 'Release', 'shears.node'), cuda);
if (process.platform === 'linux') run('strip', ['--strip-all', cuda]);
console.log(`shears prebuild: CUDA addon in ${path.relative(root, cuda)} (${fs.statSync(cuda).size} bytes)`);
