// llama.cpp's importance matrix ("imatrix"): per weight tensor, the sum over calibration
// tokens of x_j^2 for every input column j of the tensor, and a count. Two file forms
// exist (docs/importance-files.md): the legacy binary (.dat, ./imatrix-dat.ts) and GGUF
// (./imatrix-gguf.ts). Both readers return the same entries, whose values are read only
// when asked (after the caller checked the widths against a model), so a hostile size
// costs nothing until it has been compared with something real.

/** One tensor's statistics in an imatrix file. */
export interface ImatrixEntry {
  /** llama.cpp tensor name, e.g. blk.0.attn_q.weight. */
  name: string;
  /** Input columns per matrix. */
  columns: number;
  /** Matrices (more than 1 only for mixture-of-experts tensors). */
  matrices: number;
  /**
   * The count of each matrix: tokens in the GGUF form; in the legacy form the entry's
   * ncall (chunks), the one number its values are divided by (see values()).
   */
  counts: number[];
  /** The stored per-column values, matrices x columns, as float32 (copied when the file is unaligned). */
  values(): Float32Array;
}

export interface ImatrixFile {
  path: string;
  form: 'dat' | 'gguf';
  /**
   * What the counts count: 'tokens' (GGUF: values are sums of x^2 over that many tokens)
   * or 'chunks' (legacy: values / ncall is the mean of x^2 over the tokens).
   */
  countUnit: 'tokens' | 'chunks';
  entries: ImatrixEntry[];
  /** Calibration files named in the file. */
  datasets: string[];
  chunkCount?: number;
  /** Tokens per chunk (GGUF only). */
  chunkSize?: number;
  /** Other metadata of a GGUF imatrix (shears writes its own keys there), as strings. */
  metadata: Record<string, string>;
  /** Unmaps the file; values() is an error afterwards. */
  close(): void;
}

/** What the writers take for one tensor: float64 sums over `tokens` tokens. */
export interface ImatrixTensorOut {
  name: string;
  sumSq: Float64Array;
  /** Sum of x per column (GGUF's optional in_sum). */
  sum?: Float64Array;
  tokens: number;
}

export interface ImatrixOut {
  tensors: ImatrixTensorOut[];
  /** The calibration file (llama.cpp records its prompt file). */
  dataset: string;
  /** Calibration sequences (llama.cpp's chunks) and their length. */
  chunks: number;
  chunkSize: number;
  /** Extra GGUF string metadata (ignored by llama.cpp); not representable in .dat. */
  metadata?: Record<string, string>;
}

/** Entries sorted by name, as llama.cpp writes them (deterministic files). */
export function sortedTensors(o: ImatrixOut): ImatrixTensorOut[] {
  return [...o.tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
