// Keeping only one block's pruned weights in memory. Pruning writes into the model's
// copy-on-write mapping, so every pruned page becomes private memory; once a block is
// finished, its pruned tensors are written to files in the run's scratch folder beside
// the output (lib/util/scratch.ts), mapped back from there (clean, file-backed pages the
// kernel can drop and re-read), and the private copies in the original mapping are
// released. The writer later streams the tensors from the scratch mappings. close()
// unmaps them and removes their folder; a run killed before that leaves them in its
// scratch folder, which the next run removes.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { LoadedModel } from '../model/types';
import { filesNative } from '../native/files';

export class BlockOffloader {
  private readonly dir: string;
  private readonly buffers: ArrayBuffer[] = [];
  private count = 0;

  /** `dir`: a folder to create for the offloaded tensors, inside the run's scratch folder. */
  constructor(dir: string) {
    fs.mkdirSync(dir);
    this.dir = dir;
  }

  /** Moves the named tensors of `model` out of private memory (see above). */
  offload(model: LoadedModel, names: readonly string[]): void {
    const files = filesNative();
    for (const name of names) {
      const t = model.tensors.get(name);
      if (!t) continue;
      const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      const file = path.join(this.dir, `${this.count++}.bin`);
      const fd = fs.openSync(file, 'w');
      try {
        let off = 0;
        while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
      } finally {
        fs.closeSync(fd);
      }
      const mapped = files.mapFile(file);
      this.buffers.push(mapped);
      const data = t.dtype === 'f32' ? new Float32Array(mapped, 0, t.data.length) : new Uint16Array(mapped, 0, t.data.length);
      const old = t.data;
      model.tensors.set(name, { ...t, data });
      // Only views of a file mapping have private pages to give back; an owned buffer
      // (dequantized or transposed at load) is freed with its last reference.
      try {
        files.releasePages(old);
      } catch {
        /* not a mapped view */
      }
    }
  }

  /** Unmaps the scratch files and removes their folder. Tensors offloaded here must not be used afterwards. */
  close(): void {
    const files = filesNative();
    for (const b of this.buffers.splice(0)) files.unmapFile(b);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
