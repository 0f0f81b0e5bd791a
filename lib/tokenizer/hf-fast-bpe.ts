// Puts BpeMerger (bpe-merge.ts) in place of the merge step of @huggingface/tokenizers' BPE
// model: the library keeps its normalizers, pre-tokenizers, added tokens, byte fallback and
// post-processing, only its per-word merge loop (slow on long words) is replaced. The
// package is pinned; should a version change the internals this relies on, nothing is
// replaced and the library's own loop runs (test/tokenizer/bpe-fast.test.ts fails then,
// so the pin is not bumped unnoticed).
import { BpeMerger } from './bpe-merge';

/** The fields of the library's BPE model that the replacement reads and writes. */
interface LibraryBpeModel {
  merges: unknown;
  bpe_ranks: unknown;
  bpe: (token: string) => string[];
  end_of_word_suffix?: string | null;
  continuing_subword_suffix?: string | null;
}

function isLibraryBpe(model: unknown): model is LibraryBpeModel {
  // The model is a callable object: a function with the class's prototype.
  if (model === null || (typeof model !== 'object' && typeof model !== 'function')) return false;
  const m = model as Partial<LibraryBpeModel>;
  return typeof m.bpe === 'function' && m.bpe_ranks instanceof Map && Array.isArray(m.merges) && m.merges.every(isPair);
}

function isPair(x: unknown): x is [string, string] {
  return Array.isArray(x) && x.length === 2 && typeof x[0] === 'string' && typeof x[1] === 'string';
}

/**
 * Replaces the merge step of `tokenizer`'s BPE model (a @huggingface/tokenizers Tokenizer)
 * with BpeMerger; returns whether it did (false: not a BPE model, or internals it does not
 * recognise).
 */
export function useFastBpe(tokenizer: unknown): boolean {
  const model = (tokenizer as { model?: unknown } | null)?.model;
  if (!isLibraryBpe(model)) return false;
  const merger = new BpeMerger(model.merges as [string, string][], {
    endOfWordSuffix: model.end_of_word_suffix,
    continuingSubwordSuffix: model.continuing_subword_suffix,
  });
  model.bpe = (token: string) => merger.pieces(token);
  return true;
}
