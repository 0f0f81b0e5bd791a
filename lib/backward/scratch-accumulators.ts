// Per-weight accumulators in file-backed pages: each array a shared mapping of its own
// file in a run's scratch folder (native mapScratch), so that the kernel can write the
// pages back and drop them instead of keeping them as the process's private memory
// (4 bytes a weight per statistic, beyond RAM on big models). Same values as in-memory
// arrays: the pages read as zeros until written.
import * as fs from 'node:fs';

import { fromNative } from '../errors';
import { filesNative } from '../native/files';
import type { Scratch } from '../util/scratch';

export class ScratchAccumulators {
  private readonly buffers: ArrayBuffer[] = [];
  private readonly files: string[] = [];

  constructor(private readonly scratch: Scratch) {}

  /** Bytes mapped so far. */
  get bytes(): number {
    return this.buffers.reduce((s, b) => s + b.byteLength, 0);
  }

  /** A zeroed float32 array of `size` values over a new scratch file (`label` names it). */
  alloc(size: number, label: string): Float32Array {
    const file = this.scratch.path(`accumulator-${this.buffers.length}-${label.replace(/[^A-Za-z0-9_.-]/g, '_')}.f32`);
    let buf: ArrayBuffer;
    try {
      buf = filesNative().mapScratch(file, size * 4);
    } catch (e) {
      throw fromNative(e);
    }
    this.buffers.push(buf);
    this.files.push(file);
    return new Float32Array(buf);
  }

  /**
   * Unmaps every array (their views become empty) and removes the files, so that their
   * disk space is free before the output is written (a killed run's files go with its
   * scratch folder). Idempotent.
   */
  release(): void {
    for (const b of this.buffers.splice(0)) filesNative().unmapFile(b);
    for (const f of this.files.splice(0)) fs.rmSync(f, { force: true });
  }
}
