// Loads the native addon once. The CPU build comes from node-gyp-build (a local
// build in build/Release, else a prebuild in prebuilds/). A CUDA build, kept in its
// own folder (build-cuda/Release or prebuilds/<platform>-<arch>-cuda), is used only
// when it loads and reports a CUDA device; SHEARS_BACKEND=cpu forces the CPU build.
// SHEARS_ADDON=/path/to/shears.node overrides all of this (npm run test:asan).
import * as fs from 'node:fs';
import * as path from 'node:path';
import nodeGypBuild = require('node-gyp-build');
import { BackendError } from '../errors';

/** The folder of shears' package.json (source tree or installed package). */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        if (JSON.parse(fs.readFileSync(pj, 'utf8')).name === 'shears') return dir;
      } catch {
        /* keep walking */
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`shears: package root not found above ${__dirname}`);
    dir = up;
  }
}

export interface LoadedAddon {
  /** The untyped module; use the typed views in lib/native/*.ts. */
  readonly module: Record<string, unknown>;
  /** Which build was loaded and why. */
  readonly flavour: 'cpu' | 'cuda';
  readonly path: string;
  readonly note: string;
}

let loaded: LoadedAddon | undefined;

function tryCuda(root: string): LoadedAddon | { note: string } {
  const candidates = [
    path.join(root, 'build-cuda', 'Release', 'shears.node'),
    path.join(root, 'prebuilds', `${process.platform}-${process.arch}-cuda`, 'shears.node'),
  ];
  for (const file of candidates) {
    if (!fs.existsSync(file)) continue;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const mod = require(file) as Record<string, unknown>;
      const info = (mod.backends as () => { cudaAvailable: boolean; cudaStatus: string })();
      if (info.cudaAvailable) return { module: mod, flavour: 'cuda', path: file, note: info.cudaStatus };
      return { note: `the CUDA build at ${file} found no device (${info.cudaStatus})` };
    } catch (e) {
      return { note: `the CUDA build at ${file} failed to load (${(e as Error).message})` };
    }
  }
  return { note: 'no CUDA build is present (npm run build:cuda makes one)' };
}

/** SHEARS_ADDON names one CPU build to load instead (e.g. the ASan build of npm run test:asan). */
function explicitBuild(file: string): LoadedAddon {
  const abs = path.resolve(file);
  if (!fs.existsSync(abs)) throw new Error(`shears: SHEARS_ADDON=${file} but ${abs} does not exist`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(abs) as Record<string, unknown>;
  return { module: mod, flavour: 'cpu', path: abs, note: `SHEARS_ADDON=${file}` };
}

export function addon(): LoadedAddon {
  if (loaded) return loaded;
  if (process.env.SHEARS_ADDON) return (loaded = explicitBuild(process.env.SHEARS_ADDON));
  const root = packageRoot();
  const want = (process.env.SHEARS_BACKEND ?? 'auto').toLowerCase();
  let note = 'SHEARS_BACKEND=cpu';
  if (want !== 'cpu') {
    const c = tryCuda(root);
    if ('module' in c) return (loaded = c);
    if (want === 'cuda') throw new Error(`shears: SHEARS_BACKEND=cuda but ${c.note}`);
    note = `${c.note}; using the CPU build`;
  }
  const cpu = loadCpuBuild(root);
  return (loaded = { ...cpu, note });
}

/** What to run when no addon loads; node-gyp-build's own message only lists where it looked. */
const REBUILD_HINT =
  'Reinstall (npm install) or rebuild it (npm rebuild shears); a prebuilt addon ships for linux-x64, ' +
  'other platforms compile from source, which needs cmake >= 3.18 and a C++17 compiler ' +
  '(SHEARS_BUILD_FROM_SOURCE=1 npm rebuild shears forces that).';

/** The CPU build under `root` (build/Release, else prebuilds/<platform>-<arch>); BackendError saying what to run otherwise. */
export function loadCpuBuild(root: string): { module: Record<string, unknown>; flavour: 'cpu'; path: string } {
  let file: string;
  try {
    file = nodeGypBuild.resolve(root);
  } catch (e) {
    throw new BackendError(`shears: no native addon for ${process.platform}-${process.arch} in ${root}. ${REBUILD_HINT}`, { cause: e });
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return { module: require(file) as Record<string, unknown>, flavour: 'cpu', path: file };
  } catch (e) {
    throw new BackendError(`shears: the native addon ${file} does not load (${(e as Error).message}). ${REBUILD_HINT}`, { cause: e });
  }
}
