// A query file as token ids for one model: read by the calibration reader (text lines,
// JSONL "text", chat "messages" rendered with the model's template), each query
// encoded with BOS. A query longer than the model's context is an error naming the file
// and the query: cutting it would score text the user never sent. Calibration is another
// matter (the query environment: `cutTo`): there a long query keeps its first tokens, as
// calibration windows cut documents, and the count is said.
import { CalibrationError, readCalibrationDocumentsSliced } from '../calibration/read';
import { LoadedModel } from '../model/types';
import { chatRenderer } from '../prune/chat';
import { loadTokenizer } from '../tokenizer/load';

export interface TokenizedQueries {
  file: string;
  /** The query texts (chat rows rendered), in file order. */
  texts: string[];
  /** Their token ids, BOS first. */
  ids: Int32Array[];
  /** Queries cut to `cutTo` tokens (0 without cutTo). */
  cut: number;
}

export async function readQueries(model: LoadedModel, file: string, signal?: AbortSignal, o: { cutTo?: number } = {}): Promise<TokenizedQueries> {
  const docs = await readCalibrationDocumentsSliced(file, { renderChat: chatRenderer(model), signal });
  const tok = await loadTokenizer(model.tokenizer, { vocabSize: model.config.vocabSize });
  const ctx = model.config.contextLength;
  let cut = 0;
  const ids = docs.documents.map((d, i) => {
    const q = Int32Array.from(tok.encode(d, { bos: true }));
    if (o.cutTo !== undefined && q.length > o.cutTo) {
      cut++;
      return q.slice(0, o.cutTo);
    }
    if (q.length > ctx)
      throw new CalibrationError(
        `query ${i + 1} (${JSON.stringify(d.length > 60 ? `${d.slice(0, 57)}...` : d)}) has ${q.length} tokens, more than the model's context length ${ctx}`,
        file,
      );
    return q;
  });
  return { file, texts: docs.documents, ids, cut };
}
