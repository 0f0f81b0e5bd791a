// Progress events of prune(): one vocabulary of stages, 1-based block numbers, and a
// `label` that is exactly what the CLI prints for the event.
import type { PipelineProgress } from './pipeline';

export type PruneStage = 'load' | 'calibration' | 'allocate' | 'prune' | 'recover' | 'write' | 'done';

export interface PruneProgress {
  stage: PruneStage;
  /** What the CLI shows: "load", "calibration", "block 3/8 pruning blocks.2.mlp.up", "recovery step 3/20, loss 2.1", "write", "done". */
  label: string;
  /**
   * The block being worked on, 1-based (stage 'prune'); 0 before the first block (load,
   * calibration) and the number of blocks after the last one (write, done).
   */
  block: number;
  /** Number of blocks of the model; absent only before the model is read (the first 'load' event). */
  blocks?: number;
  /** Stage 'prune' only: what the pipeline is doing to the block. */
  phase?: PipelineProgress['phase'];
  /** Stage 'prune' only: the matrix being pruned (canonical name, whose block index counts from 0). */
  layer?: string;
  elapsedSeconds: number;
}

/** "block 3/8 pruning blocks.2.mlp.up": the pipeline's label (block 1-based). */
export function blockLabel(block: number, blocks: number, phase: string, layer?: string): string {
  return `block ${block}/${blocks} ${phase}${layer ? ` ${layer}` : ''}`;
}

/** The event of a stage outside the pipeline; `blocks` once the model is loaded. */
export function stageProgress(stage: Exclude<PruneStage, 'prune'>, blocks: number | undefined, elapsedSeconds: number): PruneProgress {
  const block = stage === 'write' || stage === 'done' ? (blocks ?? 0) : 0;
  return { stage, label: stage, block, ...(blocks === undefined ? {} : { blocks }), elapsedSeconds };
}

/** A pipeline event as a prune() event. */
export function pipelineProgress(p: PipelineProgress, elapsedSeconds: number): PruneProgress {
  return { stage: 'prune', label: p.label, block: p.block, blocks: p.blocks, phase: p.phase, ...(p.layer ? { layer: p.layer } : {}), elapsedSeconds };
}
