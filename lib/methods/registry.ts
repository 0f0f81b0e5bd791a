// Every pruning method shears knows of: the plugins in ./plugins (one file each, found by
// listing the folder) and the methods still planned. A planned method is listed (so users
// see the plan) and raises NotImplementedError when chosen.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ArgumentRangeError, NotImplementedError } from '../errors';
import type { Strategy } from '../strategies';
import type { MethodKind, MethodOptionName, MethodOptions, MethodPlugin, RunResources, StructuredMethod, UnstructuredMethod } from './plugin';

export interface MethodInfo {
  name: string;
  description: string;
  kind: MethodKind;
  implemented: boolean;
  /** Needs calibration data (activations). */
  calibrated: boolean;
  /** Trains or searches: seconds to minutes a run (Declaration.slow). */
  slow?: boolean;
  /** Unstructured methods: a fresh Strategy (run: what the run lends it, e.g. its scratch folder). */
  create?: (o?: MethodOptions, run?: RunResources) => Strategy;
  /** The plugin itself (implemented methods). */
  plugin?: MethodPlugin;
  /** Recovers after pruning (prune calls the strategy's recover(); needs --queries). */
  recovers?: boolean;
  /** Calibrates and recovers on the query environment (--calib's queries continued by the dense model). */
  environment?: boolean;
  /** An unstructured method's structured form, used with --structure. */
  structured?: (o?: MethodOptions) => StructuredMethod;
  /** The method options it takes (--base, --bits, ...); prune and sweep refuse the others. */
  options?: readonly MethodOptionName[];
  checkOptions?: UnstructuredMethod['checkOptions'];
  /** Masks in N:M patterns only (a sweep gives it no unstructured cell). */
  patternsOnly?: boolean;
  /** An allocation method: chooses per-block sparsities before its base method prunes. */
  allocate?: UnstructuredMethod['allocate'];
}

// Methods announced before their plugin exists (none at present: every method of the
// seed's table has its plugin). A plugin of the same name replaces its entry.
const PLANNED: Omit<MethodInfo, 'implemented'>[] = [];

/** The plugins of ./plugins (compiled .js in dist, .ts under ts-jest), in `order`. */
function loadPlugins(): MethodPlugin[] {
  const dir = path.join(__dirname, 'plugins');
  const files = fs.readdirSync(dir).filter((f) => /\.(js|ts)$/.test(f) && !f.endsWith('.d.ts'));
  const plugins = files.map((f) => (require(path.join(dir, f)) as { method: MethodPlugin }).method).filter((m) => m && typeof m.name === 'string');
  return plugins.sort((a, b) => a.order - b.order);
}

function infoOf(p: MethodPlugin): MethodInfo {
  const base = { name: p.name, description: p.description, kind: p.kind, implemented: true, calibrated: p.calibrated, slow: p.slow === true, plugin: p };
  if (p.kind === 'structured') return base;
  const u = p as UnstructuredMethod;
  return {
    ...base,
    create: u.create,
    recovers: u.recovers === true,
    environment: u.environment === true,
    structured: u.structured,
    options: u.options ?? [],
    checkOptions: u.checkOptions,
    patternsOnly: u.patternsOnly === true,
    allocate: u.allocate,
  };
}

const PLUGINS = loadPlugins();

export const METHODS: readonly MethodInfo[] = [
  ...PLUGINS.map(infoOf),
  ...PLANNED.filter((m) => !PLUGINS.some((p) => p.name === m.name)).map((m) => ({ ...m, implemented: false })),
];

/** The method called `name`; ArgumentRangeError (a RangeError) if unknown, NotImplementedError if only planned. */
export function methodInfo(name: string): MethodInfo {
  const m = METHODS.find((x) => x.name === name);
  if (!m) {
    const known = METHODS.filter((x) => x.implemented)
      .map((x) => x.name)
      .join(', ');
    throw new ArgumentRangeError(`unknown method '${name}' (implemented: ${known}; \`shears methods\` lists all)`);
  }
  if (!m.implemented) throw new NotImplementedError(`method '${name}' (${m.description}) is not implemented yet`);
  return m;
}

/** The structured plugin called `name`, or undefined when `name` masks weights instead. */
export function structuredMethod(name: string): StructuredMethod | undefined {
  const p = methodInfo(name).plugin;
  return p?.kind === 'structured' ? p : undefined;
}
