// The pieces of a SentencePiece vocabulary in the spelling HF tokenizer.json and GGUF use:
// U+2581 for spaces, "<unk>"/"<s>"/"</s>" for llama2.c's ids 0..2 (stored there as
// "<unk>", "\n<s>\n", "\n</s>\n"), <0xXX> for byte tokens.
import { NotImplementedError } from '../errors';
import { TOKEN_TYPE, type SpmVocab } from './spm-vocab';

export interface SpmPieces {
  pieces: string[];
  types: number[];
}

export function spmPieces(v: SpmVocab): SpmPieces {
  const n = v.bytes.length;
  const pieces: string[] = new Array(n);
  const types: number[] = new Array(n);
  for (let id = 0; id < n; id++) {
    if (v.kind === 'gguf-llama') {
      pieces[id] = v.display[id];
    } else if (id === v.unk) {
      pieces[id] = '<unk>';
    } else if (id === v.bos) {
      pieces[id] = '<s>';
    } else if (id === v.eos) {
      pieces[id] = '</s>';
    } else {
      const buf = Buffer.from(v.bytes[id], 'latin1');
      const text = buf.toString('utf8');
      if (!Buffer.from(text, 'utf8').equals(buf)) {
        throw new NotImplementedError(`${v.origin}: token ${id} is not valid UTF-8; it cannot be written as a tokenizer.json/GGUF piece`);
      }
      pieces[id] = text.replace(/ /g, '\u2581');
    }
    types[id] = v.types ? v.types[id] : llama2cType(v, id);
  }
  return { pieces, types };
}

/** llama2.c files carry no types: unk, BOS/EOS and <0xXX> pieces are known by id and form. */
function llama2cType(v: SpmVocab, id: number): number {
  if (v.byteOf[id] >= 0) return TOKEN_TYPE.byte;
  if (id === v.unk) return TOKEN_TYPE.unknown;
  if (id === v.bos || id === v.eos) return TOKEN_TYPE.control;
  return TOKEN_TYPE.normal;
}
