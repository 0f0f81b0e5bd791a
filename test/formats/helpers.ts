// Test helpers: temp dirs, bit comparisons and a plain TypeScript reference of the
// RoPE row permutation (independent of the native op under test).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { LoadedModel, Tensor } from '../../lib/model/types';

const made: string[] = [];
// Registered while the importing test file is collected: removes that file's temp dirs.
afterAll(() => {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

export function tempDir(prefix = 'shears-formats-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(d);
  return d;
}

export function bytes(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

export function bitsEqual(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.compare(bytes(a), bytes(b)) === 0;
}

/** Rows of an [heads*headDim, cols] matrix moved from interleaved to rotate-half order. */
export function refToRotateHalf<T extends Float32Array | Uint16Array>(data: T, heads: number, headDim: number): T {
  const cols = data.length / (heads * headDim);
  const out = new (data.constructor as { new (n: number): T })(data.length);
  const h = headDim / 2;
  for (let head = 0; head < heads; head++)
    for (let i = 0; i < h; i++)
      for (let k = 0; k < 2; k++) {
        const from = head * headDim + 2 * i + k;
        const to = head * headDim + k * h + i;
        out.set(data.subarray(from * cols, (from + 1) * cols), to * cols);
      }
  return out;
}

/** Asserts that two models hold the same tensors, bit for bit; `map` may transform `a`'s tensor first. */
export function expectSameTensors(a: LoadedModel, b: LoadedModel, map: (t: Tensor) => ArrayBufferView = (t) => t.data): void {
  expect([...b.tensors.keys()].sort()).toEqual([...a.tensors.keys()].sort());
  for (const [name, t] of a.tensors) {
    const u = b.tensors.get(name)!;
    expect({ name, shape: u.shape, dtype: u.dtype }).toEqual({ name, shape: t.shape, dtype: t.dtype });
    if (!bitsEqual(map(t), u.data)) throw new Error(`tensor ${name} differs`);
  }
}

export function isQK(name: string): 'q' | 'k' | undefined {
  const m = /^blocks\.\d+\.attn\.([qk])\.weight$/.exec(name);
  return m ? (m[1] as 'q' | 'k') : undefined;
}
