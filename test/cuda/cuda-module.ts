// Loads the CUDA variant of the addon (build-cuda/Release/shears.node) directly, for
// tests that compare its CUDA backend with its CPU backend. Tests skip with a message
// when the build or the device is absent.
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { KernelsNative } from '../../lib/native/kernels';

export const CUDA_BUILD = path.resolve(__dirname, '..', '..', 'build-cuda', 'Release', 'shears.node');
export const hasCudaBuild = fs.existsSync(CUDA_BUILD);

let mod: KernelsNative | undefined;
export function cudaModule(): KernelsNative {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (!mod) mod = require(CUDA_BUILD) as KernelsNative;
  return mod;
}

export const hasCudaDevice = hasCudaBuild && cudaModule().backends().cudaAvailable;

const warned = new Set<string>();
function warnOnce(msg: string): void {
  if (warned.has(msg)) return;
  warned.add(msg);
  // Straight to stderr: jest drops console output of suites whose tests are all skipped.
  process.stderr.write(`${msg}\n`);
}

export const NO_BUILD = 'CUDA build not present; run npm run build:cuda';

/** describe() when build-cuda exists, else describe.skip with a message. */
export function describeCudaBuild(): jest.Describe {
  if (hasCudaBuild) return describe;
  warnOnce(`skipping: ${NO_BUILD}`);
  return describe.skip;
}

/** describe() when build-cuda exists and reports a CUDA device, else describe.skip with a message. */
export function describeCudaDevice(): jest.Describe {
  if (hasCudaDevice) return describe;
  warnOnce(`skipping CUDA device tests: ${hasCudaBuild ? cudaModule().backends().cudaStatus : NO_BUILD}`);
  return describe.skip;
}
