// finetune-report.json: what was trained on what, how the loss went, and the proof that
// the sparsity mask was preserved (per pruned matrix: zeros before and after, and a
// checksum of the zero positions, read back from the trained weights).
import { MaskCheck } from './mask';

export interface FinetuneReport {
  shears_version: string;
  created: string;
  kind: 'finetune';
  input: { path: string; format: string; architecture: string; checksum: string; checksum_of: string };
  data: { source: string; samples: number; seq_len: number; sampling: string; seed: number; packed: boolean; notes: string[] };
  optimizer: {
    name: 'adamw';
    lr: number;
    beta1: number;
    beta2: number;
    eps: number;
    weight_decay: number;
    weight_decay_applies_to: string;
    batch: number;
    steps: number;
    /** Sequences seen (steps x batch). */
    sequences: number;
  };
  /** Tensors and parameters trained; pruned weights (held at zero) are not counted as trained. */
  trained: { tensors: number; parameters: number; held_at_zero: number };
  ewc: null | {
    lambda: number;
    source: string;
    samples: number;
    seq_len: number;
    /** Mean NLL of the EWC sequences on the input model. */
    input_loss: number;
    fisher_mean: number;
    fisher_max: number;
    /** lambda/2 * sum F (w - w*)^2 at the end (0 at the start: w* is the input). */
    penalty_after: number;
  };
  /** Mean next-token NLL of each step's batch (before that step's update). */
  losses: number[];
  eval: null | { source: string; seq_len: number; windows: number; perplexity_before: number; perplexity_after: number };
  mask: {
    /** True when every pruned matrix has exactly its zeros before at the same positions. */
    preserved: boolean;
    pruned_weights: number;
    checksum_of: string;
    matrices: MaskCheck[];
  };
  checkpoints: { step: number; path: string }[];
  timings: Record<string, number>;
  peak_rss_bytes: number;
  output: { path: string; format: 'hf' | 'gguf'; dtype: string; tokenizer: string; report: string };
  notes: string[];
}

export const CHECKSUM_OF = 'sha256 (first 16 hex digits) of the packed bits of the zero positions (bit i = weight i is +0 or -0, row-major)';
