// JSON mutations: a value replaced by one of the wrong type or an out-of-range number, a
// key or element removed or duplicated, a string emptied or lengthened; and text-level
// damage (truncation, stray bytes) that leaves invalid JSON.
import { interestingJsonNumber, wrongTypeJson } from './interesting';
import { mutateBytes, type Mutated } from './mutate-bytes';
import type { Rng } from './rng';

export type JsonPath = (string | number)[];

// JSON text spliced in at serialisation: nesting too deep for JSON.stringify's recursion.
const VERBATIM = new Map<string, string>();

/** A placeholder value that stringifyJson() replaces with `text` as it stands. */
export function verbatim(text: string): string {
  const token = `__fuzz_verbatim_${VERBATIM.size}__`;
  VERBATIM.set(token, text);
  return token;
}

/** JSON.stringify with the verbatim() placeholders replaced (and forgotten). */
export function stringifyJson(v: unknown): string {
  let s = JSON.stringify(v);
  for (const [token, text] of VERBATIM) s = s.split(`"${token}"`).join(text);
  VERBATIM.clear();
  return s;
}
type Container = Record<string, unknown> | unknown[];

export const showPath = (p: JsonPath): string => (p.length === 0 ? '$' : '$' + p.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join(''));

/** Every path in `v` (depth-first), at most `cap` of them. */
export function jsonPaths(v: unknown, cap = 50000): JsonPath[] {
  const out: JsonPath[] = [];
  const walk = (x: unknown, p: JsonPath): void => {
    if (out.length >= cap) return;
    out.push(p);
    if (Array.isArray(x)) x.forEach((y, i) => walk(y, [...p, i]));
    else if (x && typeof x === 'object') for (const k of Object.keys(x)) walk((x as Record<string, unknown>)[k], [...p, k]);
  };
  walk(v, []);
  return out;
}

export function getPath(root: unknown, p: JsonPath): unknown {
  let x = root;
  for (const k of p) x = (x as Record<string | number, unknown>)?.[k];
  return x;
}

/** Sets (or, with `remove`, deletes) the value at a non-empty path; returns false when the parent is not a container. */
export function setPath(root: unknown, p: JsonPath, value: unknown, remove = false): boolean {
  const parent = getPath(root, p.slice(0, -1));
  if (!parent || typeof parent !== 'object') return false;
  const key = p[p.length - 1];
  if (Array.isArray(parent) && typeof key === 'number') {
    if (remove) parent.splice(key, 1);
    else parent[key] = value;
  } else if (remove) delete (parent as Record<string, unknown>)[key];
  else (parent as Record<string, unknown>)[key] = value;
  return true;
}

/** One structural mutation of a parsed document, in place; returns its description. */
export function mutateJsonValue(root: unknown, r: Rng, paths = jsonPaths(root)): string {
  const candidates = paths.filter((p) => p.length > 0);
  if (candidates.length === 0) return 'no paths to mutate';
  const p = r.pick(candidates);
  const cur = getPath(root, p);
  const at = showPath(p);
  switch (r.weighted([6, 6, 4, 2, 2, 2, 1])) {
    case 0: {
      const v = wrongTypeJson(r);
      setPath(root, p, v);
      return `${at} := ${short(v)} (was ${typeName(cur)})`;
    }
    case 1: {
      const v = interestingJsonNumber(r, typeof cur === 'number' ? cur : undefined);
      setPath(root, p, v);
      return `${at} := ${v}`;
    }
    case 2:
      setPath(root, p, undefined, true);
      return `delete ${at}`;
    case 3: {
      const parent = getPath(root, p.slice(0, -1)) as Container;
      if (Array.isArray(parent)) {
        const n = r.pick([1, 2, 10, 1000]);
        parent.splice(p[p.length - 1] as number, 0, ...Array.from({ length: n }, () => structuredClone(cur)));
        return `duplicate ${at} ${n} times`;
      }
      (parent as Record<string, unknown>)[`${String(p[p.length - 1])}_fuzz`] = structuredClone(cur);
      return `copy ${at} under a new key`;
    }
    case 4: {
      const v = r.pick(['', ' ', '\u0000', 'é', '\ud800', 'x'.repeat(r.pick([64, 4096, 65536]))]);
      setPath(root, p, v);
      return `${at} := string of length ${v.length}`;
    }
    case 6: {
      // Deep nesting: recursive walkers (normalizer sequences, template processors) overflow their stack.
      const depth = r.pick([1000, 20000]);
      setPath(root, p, verbatim('['.repeat(depth) + ']'.repeat(depth)));
      return `${at} := arrays nested ${depth} deep`;
    }
    default: {
      const v = Array.isArray(cur) ? [] : cur && typeof cur === 'object' ? {} : null;
      setPath(root, p, v);
      return `${at} := ${short(v)} (emptied)`;
    }
  }
}

/** Text-level damage: mostly truncation or stray bytes, which make the JSON invalid. */
export function mutateJsonText(text: Buffer, r: Rng): Mutated {
  return mutateBytes(text, r);
}

export function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

export function short(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}
