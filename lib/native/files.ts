// Hand-written interface of the file-mapping and byte-rearranging part of the addon
// (native/bindings/mmap_bindings.cc).
import { addon } from './binding';

export interface FilesNative {
  /** ArrayBuffer over a private copy-on-write mapping of the whole file (empty for a 0-byte file). */
  mapFile(path: string): ArrayBuffer;
  /**
   * ArrayBuffer over a shared read-write mapping of a new file of `bytes` bytes at `path`
   * (created exclusively; reads as zeros): writes reach the file, so its pages can be
   * written back and dropped by the kernel instead of counting as the process's private
   * memory. Released with unmapFile (or at garbage collection); removing the file is the
   * caller's (it belongs in a scratch folder).
   */
  mapScratch(path: string, bytes: number): ArrayBuffer;
  /**
   * Detaches a mapped buffer (its views become empty) and releases the mapping: true
   * when at once, false when pending native ops still use it (it is then released
   * when the last of them settles; their data stays valid until then).
   */
  unmapFile(buffer: ArrayBuffer): boolean;
  /** Drops the copy-on-write copies of the whole pages inside a view of a mapFile buffer; returns the bytes released. */
  releasePages(view: ArrayBufferView): number;
  /** src: n*34 bytes of Q8_0 blocks; out: n*32 floats. */
  dequantQ8_0(src: Uint8Array, out: Float32Array): Promise<void>;
  /** Per-head RoPE row permutation of a [heads*headDim, rowBytes] matrix (see native/cpu/permute_rows.h). */
  permuteRopeRows(src: Uint8Array, dst: Uint8Array, heads: number, headDim: number, rowBytes: number, toInterleaved: boolean): Promise<void>;
  /** dst[c, r] = src[r, c] for a [rows, cols] matrix of elemBytes-byte elements. */
  transposeBytes(src: Uint8Array, dst: Uint8Array, rows: number, cols: number, elemBytes: number): Promise<void>;
  /**
   * dst[i, j] = src[rowIdx[i], colIdx[j]] for a [rows, cols] matrix of elemBytes-byte
   * elements (null: every row / column): the kept part of a matrix in structured surgery.
   */
  gatherBytes(src: Uint8Array, dst: Uint8Array, rows: number, cols: number, elemBytes: number, rowIdx: Int32Array | null, colIdx: Int32Array | null): Promise<void>;
}

export function filesNative(): FilesNative {
  return addon().module as unknown as FilesNative;
}
