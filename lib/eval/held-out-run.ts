// `shears eval --reference`: a pruned model against its dense reference on held-out
// queries. The queries are tokenized with the reference's tokenizer, continued by the
// reference (lib/queries/environment.ts), then both models are measured on the same
// sequences (./held-out.ts). Both models stay memory-mapped; they are closed however it ends.
import { BackendRequest, planBackend } from '../backend';
import { loadModel } from '../formats/load';
import { ForwardModel } from '../forward/model';
import { SamplingOptions, checkSampling } from '../forward/sampling';
import { buildEnvironment } from '../queries/environment';
import { readQueries } from '../queries/read';
import { secondsSince } from '../util/clock';
import { HeldOutMeasures, heldOutMeasures } from './held-out';

export interface CompareOptions extends SamplingOptions {
  /** The pruned model. */
  model: string;
  /** The dense model it was pruned from. */
  reference: string;
  /** Held-out queries (text lines, JSONL text or chat). */
  queries: string;
  tokenizer?: string;
  /** Tokens the reference generates per query (default 32). */
  generateTokens?: number;
  backend?: BackendRequest;
  signal?: AbortSignal;
  onProgress?: (label: string, done: number, total: number) => void;
}

export interface CompareReport extends HeldOutMeasures {
  queries: number;
  generateTokens: number;
  sampling: { temperature: number; topK: number; seed: number; greedy: boolean };
  /** Continuation tokens generated in all. */
  generated: number;
  timings: { load: number; environment: number; measures: number; total: number };
  backend: ReturnType<typeof planBackend>;
}

export const DEFAULT_GENERATE_TOKENS = 32;

export async function compareOnQueries(o: CompareOptions): Promise<CompareReport> {
  const t0 = process.hrtime.bigint();
  const sampling = checkSampling(o);
  const generateTokens = o.generateTokens ?? DEFAULT_GENERATE_TOKENS;
  const backend = planBackend(o.backend ?? 'auto');
  const reference = await loadModel(o.reference, { tokenizer: o.tokenizer });
  try {
    const pruned = await loadModel(o.model, { tokenizer: o.tokenizer });
    try {
      const dense = new ForwardModel(reference, { backend: backend.device });
      const load = secondsSince(t0);
      const t1 = process.hrtime.bigint();
      const queries = await readQueries(reference, o.queries, o.signal);
      const sequences = await buildEnvironment(dense, queries, {
        ...sampling,
        generateTokens,
        signal: o.signal,
        onProgress: (d, n) => o.onProgress?.('generate', d, n),
      });
      const environment = secondsSince(t1);
      const t2 = process.hrtime.bigint();
      const m = await heldOutMeasures(dense, new ForwardModel(pruned, { backend: backend.device }), sequences, {
        signal: o.signal,
        onProgress: (d, n) => o.onProgress?.('measure', d, n),
      });
      const generated = sequences.reduce((s, q) => s + q.ids.length - q.answerStart, 0);
      return {
        ...m,
        queries: sequences.length,
        generateTokens,
        sampling,
        generated,
        timings: { load, environment, measures: secondsSince(t2), total: secondsSince(t0) },
        backend,
      };
    } finally {
      pruned.close();
    }
  } finally {
    reference.close();
  }
}
