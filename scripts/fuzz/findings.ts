// Reproducers: a failing case's files plus case.json (target, fuzz seed, iteration,
// mutations, outcome), written to the findings folder and committed as regression
// cases under test/fuzz/cases. A signature groups failures that share a root cause.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { FuzzCase } from './mutate';
import { REPO_ROOT, SHARED_DATA } from './seeds';
import type { Outcome, RunSpec, Target } from './spec';

export interface CaseRecord {
  target: Target;
  fuzzSeed: string;
  iteration: number;
  seedName: string;
  mutations: string[];
  spec: RunSpec;
  outcome: Outcome;
  signature: string;
  /** Files linked rather than stored: name -> "repo:<path>" or "shared:<path>". */
  links?: Record<string, string>;
  /** Set on a committed case whose fix has not landed yet: what it waits for. */
  awaits?: string;
}

/** The message with paths, numbers and quoted values blurred, so that one root cause gives one signature. */
export function normalizeMessage(message: string): string {
  return message
    .replace(/\/[^\s:'"`,)]+/g, '<path>')
    .replace(/"[^"]{16,}"/g, '"…"')
    .replace(/-?\b\d+(\.\d+)?(e[+-]?\d+)?\b/gi, '#')
    .replace(/0x[0-9a-f]+/gi, '#')
    .slice(0, 160);
}

/**
 * The function an untyped error escaped from: the first frame of `where` with a source
 * file; without one (a recursion inside built-ins), the set of built-ins, which does not
 * depend on where in the recursion the stack ran out.
 */
function escapedFrom(where?: string): string {
  const frames = [...(where ?? '').matchAll(/at (?:async )?([\w$.<>]+) \(([^)]*)\)/g)];
  const own = frames.find((f) => f[2] !== '<anonymous>' && !f[2].startsWith('node:'));
  if (own) return ` @${own[1]}`;
  return frames.length ? ` @${[...new Set(frames.map((f) => f[1]))].sort().join('+')}` : '';
}

/**
 * Errors group by class, error name, escape point and blurred message. A timeout, memory
 * or crash has no message of its own: it groups by which files were mutated (e.g. the
 * chat template in tokenizer_config.json), the closest cheap proxy for its root cause.
 */
export function signatureOf(target: Target, o: Outcome, mutations: string[]): string {
  if (o.class === 'timeout' || o.class === 'memory' || o.class === 'crash') {
    const files = [...new Set(mutations.map((m) => m.slice(0, m.indexOf(':'))))].sort();
    return `${target}/${o.class}: ${files.join('+')}`;
  }
  return `${target}/${o.class}/${o.name ?? ''}${escapedFrom(o.where)}: ${normalizeMessage(o.message ?? '')}`;
}

export const shortHash = (s: string): string => createHash('sha1').update(s).digest('hex').slice(0, 8);

/** Link spec for a linked seed file: repo-relative or shared-data-relative when possible. */
function linkName(abs: string): string {
  const inRepo = path.relative(REPO_ROOT, abs);
  if (!inRepo.startsWith('..')) return `repo:${inRepo}`;
  const inShared = path.relative(SHARED_DATA, abs);
  return inShared.startsWith('..') ? abs : `shared:${inShared}`;
}

export function resolveLink(link: string): string {
  if (link.startsWith('repo:')) return path.join(REPO_ROOT, link.slice(5));
  if (link.startsWith('shared:')) return path.join(SHARED_DATA, link.slice(7));
  return link;
}

/** Writes the case's files into `dir` (emptied first); linked files become symlinks. */
export function materialize(dir: string, files: Record<string, { data?: Buffer; link?: string }>): void {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, f] of Object.entries(files)) {
    if (f.data) fs.writeFileSync(path.join(dir, name), f.data);
    else if (f.link) fs.symlinkSync(resolveLink(f.link), path.join(dir, name));
  }
}

/** Saves a reproducer under out/<target>/<class>-<signature hash>-<iteration>/; returns its path. */
export function saveReproducer(out: string, c: FuzzCase, record: Omit<CaseRecord, 'links' | 'seedName' | 'mutations'>): string {
  const dir = path.join(out, record.target, `${record.outcome.class}-${shortHash(record.signature)}-${record.iteration}`);
  const links: Record<string, string> = {};
  const files: Record<string, Buffer> = {};
  for (const [name, f] of Object.entries(c.files)) {
    if (f.data) files[name] = f.data;
    else if (f.link) links[name] = linkName(f.link);
  }
  fs.mkdirSync(path.join(dir, 'files'), { recursive: true });
  for (const [name, data] of Object.entries(files)) fs.writeFileSync(path.join(dir, 'files', name), data);
  const full: CaseRecord = { ...record, seedName: c.seed.name, mutations: c.mutations, ...(Object.keys(links).length ? { links } : {}) };
  fs.writeFileSync(path.join(dir, 'case.json'), JSON.stringify(full, null, 2) + '\n');
  return dir;
}

/** A saved reproducer (or committed regression case) read back: its record and the files to materialize. */
export function readReproducer(dir: string): { record: CaseRecord; files: Record<string, { data?: Buffer; link?: string }> } {
  const record = JSON.parse(fs.readFileSync(path.join(dir, 'case.json'), 'utf8')) as CaseRecord;
  const files: Record<string, { data?: Buffer; link?: string }> = {};
  const fdir = path.join(dir, 'files');
  if (fs.existsSync(fdir)) for (const name of fs.readdirSync(fdir)) files[name] = { data: fs.readFileSync(path.join(fdir, name)) };
  for (const [name, link] of Object.entries(record.links ?? {})) files[name] = { link };
  return { record, files };
}

export const CASES_DIR = path.join(REPO_ROOT, 'test', 'fuzz', 'cases');

/** Every committed regression case directory (test/fuzz/cases/<target>/<name>/case.json). */
export function committedCases(root = CASES_DIR): string[] {
  if (!fs.existsSync(root)) return [];
  const out: string[] = [];
  for (const t of fs.readdirSync(root).sort())
    for (const n of fs.readdirSync(path.join(root, t)).sort()) if (fs.existsSync(path.join(root, t, n, 'case.json'))) out.push(path.join(root, t, n));
  return out;
}

/** Signatures already known (committed as regression cases): finding one again is not new. */
export function knownSignatures(root = CASES_DIR): Set<string> {
  return new Set(committedCases(root).map((d) => (JSON.parse(fs.readFileSync(path.join(d, 'case.json'), 'utf8')) as CaseRecord).signature));
}

/**
 * Copies a reproducer into test/fuzz/cases/<target>/<name>/ as a regression case, its
 * signature recomputed; `awaits` names the fix a still-failing case waits for.
 */
export function promoteReproducer(src: string, name: string, awaits?: string, root = CASES_DIR): string {
  const { record } = readReproducer(src);
  const dest = path.join(root, record.target, name);
  fs.mkdirSync(dest, { recursive: true });
  if (fs.existsSync(path.join(src, 'files'))) fs.cpSync(path.join(src, 'files'), path.join(dest, 'files'), { recursive: true });
  const out: CaseRecord = { ...record, signature: signatureOf(record.target, record.outcome, record.mutations), ...(awaits ? { awaits } : {}) };
  if (!awaits) delete out.awaits;
  fs.writeFileSync(path.join(dest, 'case.json'), JSON.stringify(out, null, 2) + '\n');
  return dest;
}
