// Progress events of sweep(): the stages, 1-based cell numbers and a `label` that is
// what `shears sweep` prints for the event.
import type { CellSpec } from './options';

export type SweepStage = 'prepare' | 'statistics' | 'dense' | 'cell' | 'report' | 'done';

export interface SweepProgress {
  stage: SweepStage;
  /** "prepare", "dense", "cell 3/45 wanda unstructured 0.5 (block 2/8 pruning)", "report", "done". */
  label: string;
  /** Stage 'cell': the cell's number in sweep order, 1-based, and how many there are. */
  cell?: number;
  cells?: number;
  spec?: CellSpec;
  /** What the cell is doing ("block 2/8 pruning", "evaluating"), or "cached" when a resumed sweep reused it. */
  detail?: string;
  /** A sweep on a queue (cells finish in any order): how many cells are finished. */
  finished?: number;
  elapsedSeconds: number;
}

export type SweepEvent = Omit<SweepProgress, 'label' | 'elapsedSeconds'>;

/** "cell 3/45 wanda unstructured 0.5", the cell's place and spec without its detail. */
export function cellLabel(cell: number, cells: number, spec: CellSpec): string {
  return `cell ${cell}/${cells} ${spec.method} ${spec.structure ?? spec.pattern} ${spec.level}`;
}

export function sweepProgress(e: SweepEvent, elapsedSeconds: number): SweepProgress {
  const cell = e.stage === 'cell' && e.cell !== undefined && e.cells !== undefined && e.spec ? `${cellLabel(e.cell, e.cells, e.spec)}${e.detail ? ` (${e.detail})` : ''}` : undefined;
  // On a queue: "12/45 cells finished; cell 7/45 wanda unstructured 0.5 (host:pid: evaluating)".
  const label =
    e.finished !== undefined && e.cells !== undefined ? `${e.finished}/${e.cells} cells finished${cell ? `; ${cell}` : e.detail ? `; ${e.detail}` : ''}` : (cell ?? e.stage);
  return { ...e, label, elapsedSeconds };
}
