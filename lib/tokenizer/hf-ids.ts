// Token ids of a tokenizer.json, checked before @huggingface/tokenizers sees the file:
// the library stores vocabularies as arrays indexed by id, so one added token with id
// 2^31 makes get_vocab() walk two billion slots (minutes of CPU), and encode() hands
// out ids the model has no embedding for. Every id must be an integer in
// [0, bound): bound = the model's vocabulary size when known, otherwise the number of
// entries the file itself holds (vocabulary + added tokens).
import { FormatError } from '../errors';

type Json = Record<string, unknown>;

/** A short, safe rendering of a value from the file (it may be nested 20000 deep). */
function show(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  return Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : String(typeof v);
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The model's vocabulary entries: [piece, id] pairs (Unigram: ids are positions). */
function modelEntries(file: string, model: unknown): { count: number; ids: Iterable<[string, unknown]> } {
  if (!isObject(model)) throw new FormatError(file, '"model" must be an object');
  const vocab = model.vocab;
  if (Array.isArray(vocab)) {
    // Unigram: [[piece, score], ...]; its unk_id indexes that list.
    if (model.unk_id !== undefined && model.unk_id !== null) {
      const u = model.unk_id;
      if (typeof u !== 'number' || !Number.isInteger(u) || u < 0 || u >= vocab.length)
        throw new FormatError(file, `model.unk_id ${show(u)} is not an index of the ${vocab.length}-entry vocabulary`);
    }
    return { count: vocab.length, ids: [] };
  }
  if (!isObject(vocab)) throw new FormatError(file, '"model.vocab" must be an object of piece -> id (or a Unigram list)');
  return { count: Object.keys(vocab).length, ids: Object.entries(vocab) };
}

/**
 * Throws FormatError naming `file` when an id of the model's vocabulary or of added_tokens
 * is not an integer in [0, bound). Returns the bound used.
 */
export function checkTokenizerIds(file: string, json: Json, vocabSize?: number): number {
  const entries = modelEntries(file, json.model);
  const added = json.added_tokens ?? [];
  if (!Array.isArray(added)) throw new FormatError(file, '"added_tokens" must be a list');
  const bound = vocabSize ?? entries.count + added.length;
  const boundText = vocabSize !== undefined ? `the model's vocabulary of ${vocabSize} tokens` : `the ${bound} entries the file holds`;
  const check = (id: unknown, what: string): void => {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= bound)
      throw new FormatError(file, `${what} has id ${show(id)}: ids must be integers in [0, ${bound}), ${boundText}`);
  };
  for (const [piece, id] of entries.ids) check(id, `vocabulary entry ${show(piece)}`);
  added.forEach((t: unknown, i) => {
    if (!isObject(t) || typeof t.content !== 'string') throw new FormatError(file, `added_tokens[${i}] must be an object with a string "content"`);
    check(t.id, `added token ${show(t.content)}`);
  });
  return bound;
}
