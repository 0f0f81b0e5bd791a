// Recovery fine-tuning of pruned models with the mask held fixed (docs/finetune.md).
export { finetune, MaskNotPreservedError } from './run';
export type { FinetuneOptions, FinetuneProgress, FinetuneReport } from './run';
export { checkFinetuneOptions, checkpointPath } from './options';
