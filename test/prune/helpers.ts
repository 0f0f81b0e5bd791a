// Helpers for the pruning pipeline tests: temp dirs, zero counting on loaded tensors
// (f32 and f16/bf16 bits), and the canonical-layout view of a written model's Q/K.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { LoadedModel, Tensor } from '../../lib/model/types';
import { prune, PruneOptions, PruneProgress } from '../../lib/prune/run';
import { refToRotateHalf, tempDir as formatsTempDir } from '../formats/helpers';

/** A temporary folder removed after the importing test file (test/formats/helpers). */
export const tempDir = (prefix = 'shears-prune-'): string => formatsTempDir(prefix);

/** Whether element i is +0 or -0 (f16 and bf16 share the zero encodings 0x0000/0x8000). */
export function isZero(t: Tensor, i: number): boolean {
  const v = t.data[i];
  return t.dtype === 'f32' ? v === 0 : (v & 0x7fff) === 0;
}

export function countZeros(t: Tensor, begin = 0, end = t.data.length): number {
  let z = 0;
  for (let i = begin; i < end; i++) if (isZero(t, i)) z++;
  return z;
}

/** Zeros in each row of a [rows, cols] matrix. */
export function zerosPerRow(t: Tensor): number[] {
  const [rows, cols] = t.shape;
  return Array.from({ length: rows }, (_, r) => countZeros(t, r * cols, (r + 1) * cols));
}

/** Zeros in each column tile [c0, c0 + width) over all rows. */
export function zerosInTile(t: Tensor, c0: number, width: number): number {
  const [rows, cols] = t.shape;
  let z = 0;
  for (let r = 0; r < rows; r++) z += countZeros(t, r * cols + c0, r * cols + Math.min(cols, c0 + width));
  return z;
}

/** The smallest number of zeros in any group of m consecutive weights of a row (cols % m == 0). */
export function minZerosPerGroup(t: Tensor, m: number): number {
  const [rows, cols] = t.shape;
  if (cols % m !== 0) throw new Error(`${t.name}: ${cols} columns are not a multiple of ${m}`);
  let min = Infinity;
  for (let r = 0; r < rows; r++)
    for (let g = 0; g < cols; g += m) min = Math.min(min, countZeros(t, r * cols + g, r * cols + g + m));
  return min;
}

/**
 * `input`'s tensor as it should appear in `output` when nothing but pruning changed:
 * Q/K rows move from the interleaved RoPE layout (llama2.c, GGUF) to rotate-half (HF).
 */
export function inOutputLayout(input: LoadedModel, output: LoadedModel, name: string): Tensor {
  const t = input.tensors.get(name)!;
  const from = input.config.rope?.layout;
  const to = output.config.rope?.layout;
  const qk = /^blocks\.\d+\.attn\.([qk])\.weight$/.exec(name)?.[1];
  if (!qk || from === to) return t;
  if (from !== 'interleaved' || to !== 'rotate_half') throw new Error(`unexpected RoPE layouts ${from} -> ${to}`);
  const heads = qk === 'q' ? input.config.numHeads : input.config.numKvHeads;
  return { ...t, data: refToRotateHalf(t.data, heads, input.config.headDim) };
}

/** Files in dir whose names contain the atomic writer's temporary marker. */
export function tempLeftovers(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.includes('.shears-tmp'));
}

export const ROOT = path.resolve(__dirname, '..', '..');
export const CLI = path.join(ROOT, 'bin', 'shears.js');

/** The CLI runs from dist/: rebuilds it (tsc) when a lib source is newer than dist's main. */
export function ensureCliBuilt(): void {
  const main = path.join(ROOT, 'dist', 'lib', 'cli', 'main.js');
  const newest = (dir: string): number =>
    fs.readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
      const p = path.join(dir, e.name);
      return Math.max(m, e.isDirectory() ? newest(p) : e.name.endsWith('.ts') ? fs.statSync(p).mtimeMs : 0);
    }, 0);
  if (fs.existsSync(main) && fs.statSync(main).mtimeMs >= newest(path.join(ROOT, 'lib'))) return;
  const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed:\n${r.stdout}${r.stderr}`);
}

/**
 * Runs prune(o) and aborts it when it first reports `stage`: the run must reject, and
 * leave neither its output nor a temporary file in `dir`.
 */
export async function expectStopLeavesNothing(o: PruneOptions, stage: PruneProgress['stage'], dir: string): Promise<void> {
  const ac = new AbortController();
  const run = prune({
    ...o,
    signal: ac.signal,
    onProgress: (p) => {
      if (p.stage === stage) ac.abort();
    },
  });
  await expect(run).rejects.toThrow();
  expect(ac.signal.aborted).toBe(true);
  expect(fs.existsSync(o.out)).toBe(false);
  expect(tempLeftovers(dir)).toEqual([]);
}
