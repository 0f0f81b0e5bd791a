// Which compute backend a run uses. `auto` (the default) is CUDA when the loaded addon
// answers with a device (lib/native/binding.ts loads the CUDA build only then), else
// the CPU; `cuda` without a device is a BackendError before any work is done.
//
// The run then hands the resolved device ('cpu' or 'cuda', never 'auto') to every
// native call that takes a backend (kernels, column statistics, Hessian, SparseGPT,
// forward pass), so that what its report records is what was asked of the native code.
// Ops without device kernels yet are run on the CPU by the CUDA backend itself
// (native/core/backend.h), not bypassed here.
import { ArgumentRangeError, BackendError } from './errors';
import { backendsInfo } from './kernels';
import { addon } from './native/binding';

/** What a user asks for (--backend). */
export type BackendRequest = 'auto' | 'cpu' | 'cuda';
export const BACKEND_REQUESTS: readonly BackendRequest[] = ['auto', 'cpu', 'cuda'];

export type Device = 'cpu' | 'cuda';

export interface BackendPlan {
  requested: BackendRequest;
  /** The backend every native call of the run is given. */
  device: Device;
  /** Why, in words: the CUDA device in use, or why there is none. */
  note: string;
}

/** What planBackend needs to know about this installation (injected in tests). */
export interface BackendFacts {
  cudaAvailable: boolean;
  /** The CUDA device in use, or why there is none. */
  cudaStatus: string;
}

export function checkBackendRequest(v: unknown): BackendRequest {
  if (v === undefined) return 'auto';
  if (typeof v !== 'string' || !(BACKEND_REQUESTS as readonly string[]).includes(v))
    throw new ArgumentRangeError(`backend must be auto, cpu or cuda, got '${String(v)}'`);
  return v as BackendRequest;
}

/** The loaded addon: a CUDA build is loaded only when a device answers; otherwise its note says why not. */
export function installedBackends(): BackendFacts {
  const a = addon();
  const info = backendsInfo();
  const cudaAvailable = a.flavour === 'cuda' && info.cudaAvailable;
  return { cudaAvailable, cudaStatus: cudaAvailable ? info.cudaStatus : a.note };
}

/** Resolves a request to a device; throws BackendError for `cuda` without a device. */
export function planBackend(request?: unknown, facts: BackendFacts = installedBackends()): BackendPlan {
  const requested = checkBackendRequest(request);
  if (requested === 'cuda' && !facts.cudaAvailable)
    throw new BackendError(`--backend cuda: no CUDA device is available (${facts.cudaStatus}); use --backend auto or cpu`);
  if (requested === 'cpu') return { requested, device: 'cpu', note: 'CPU as requested' };
  if (!facts.cudaAvailable) return { requested, device: 'cpu', note: `CPU: ${facts.cudaStatus}` };
  return { requested, device: 'cuda', note: `CUDA: ${facts.cudaStatus}` };
}
