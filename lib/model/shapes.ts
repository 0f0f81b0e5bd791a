// Per-block widths (ModelConfig.blocks), read in one place: every consumer (forward pass,
// captures, KV cache, writers, reports) asks blockShape() instead of reading the
// model-wide numHeads / numKvHeads / intermediateSize.
import { ShapeError } from '../errors';
import { BlockShape, ModelConfig } from './types';

/** The widths of block i (0-based). */
export function blockShape(c: ModelConfig, i: number): BlockShape {
  const b = c.blocks?.[i];
  if (b) return b;
  return { numHeads: c.numHeads, numKvHeads: c.numKvHeads, intermediateSize: c.intermediateSize };
}

/** Every block's widths. */
export function blockShapes(c: ModelConfig): BlockShape[] {
  return Array.from({ length: c.numLayers }, (_, i) => blockShape(c, i));
}

/** Whether every block has the same widths (a standard HF config can describe it). */
export function uniformShapes(c: ModelConfig): boolean {
  const all = blockShapes(c);
  return all.every((b) => b.numHeads === all[0].numHeads && b.numKvHeads === all[0].numKvHeads && b.intermediateSize === all[0].intermediateSize);
}

/**
 * `c` with `shapes` as its per-block widths: model-wide fields take the first block's
 * widths when all are equal (blocks is then dropped), else the largest of each.
 */
export function withBlockShapes(c: ModelConfig, shapes: BlockShape[]): ModelConfig {
  checkBlockShapes({ ...c, numLayers: shapes.length, blocks: shapes }, 'the new block shapes');
  const same = shapes.every((b) => b.numHeads === shapes[0].numHeads && b.numKvHeads === shapes[0].numKvHeads && b.intermediateSize === shapes[0].intermediateSize);
  const max = (k: keyof BlockShape) => Math.max(0, ...shapes.map((b) => b[k]));
  const out: ModelConfig = {
    ...c,
    numLayers: shapes.length,
    numHeads: same && shapes.length > 0 ? shapes[0].numHeads : max('numHeads'),
    numKvHeads: same && shapes.length > 0 ? shapes[0].numKvHeads : max('numKvHeads'),
    intermediateSize: same && shapes.length > 0 ? shapes[0].intermediateSize : max('intermediateSize'),
  };
  if (same) delete out.blocks;
  else out.blocks = shapes.map((b) => ({ ...b }));
  return out;
}

/** Throws ShapeError (naming `where`) when the per-block widths cannot describe a model. */
export function checkBlockShapes(c: ModelConfig, where: string): void {
  if (c.blocks === undefined) return;
  if (!Array.isArray(c.blocks) || c.blocks.length !== c.numLayers)
    throw new ShapeError(`${where}: per-block widths list ${Array.isArray(c.blocks) ? c.blocks.length : 'no'} blocks, the model has ${c.numLayers}`);
  c.blocks.forEach((b, i) => {
    const int = (v: number) => Number.isInteger(v) && v >= 0 && v <= 2 ** 31 - 1;
    if (!int(b.numHeads) || !int(b.numKvHeads) || !int(b.intermediateSize))
      throw new ShapeError(`${where}: block ${i} widths must be integers >= 0 (heads ${b.numHeads}, kv heads ${b.numKvHeads}, MLP ${b.intermediateSize})`);
    if (b.numHeads > 0 && (b.numKvHeads === 0 || b.numHeads % b.numKvHeads !== 0))
      throw new ShapeError(`${where}: block ${i} has ${b.numHeads} query heads and ${b.numKvHeads} KV heads: heads must be a positive multiple of KV heads`);
  });
}
