// Reading calibration data: the user's queries (plain text, one per line; JSONL with a
// `text` field or chat `messages`), a C4-style JSONL corpus, or token ids (a JSON
// array). Errors name the file and what was wrong with it. Documents can be read at
// once or in time slices (one JSONL row per step: chat rows may render a template).
import * as fs from 'node:fs';

import { ShearsError } from '../errors';
import { runInSlices, runNow, SliceOptions, Steps } from './steps';

export class CalibrationError extends ShearsError {
  readonly file?: string;
  constructor(message: string, file?: string) {
    super(file ? `${file}: ${message}` : message, 'E_CALIBRATION');
    this.file = file;
  }
}

export interface ChatMessage {
  role: string;
  content: string;
}

/** Renders chat messages to text (the model's chat template when it has one). */
export type ChatRenderer = (messages: ChatMessage[]) => string;

export interface CalibrationDocuments {
  file: string;
  /** text: one document per non-empty line; jsonl: one per row. */
  format: 'text' | 'jsonl';
  documents: string[];
  /** How chat rows were turned into text, when there were any. */
  chat?: 'template' | 'plain';
  /** Rows skipped because they had no usable text. */
  skipped: number;
}

/** Plain rendering when the model has no chat template: "role: content" lines. */
export function plainChat(messages: ChatMessage[]): string {
  return messages.map((m) => `${m.role}: ${m.content}`).join('\n');
}

function cannotRead(file: string, e: unknown): CalibrationError {
  return new CalibrationError(`cannot read calibration file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, file);
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw cannotRead(file, e);
  }
}

export interface ReadDocumentsOptions {
  renderChat?: ChatRenderer;
}

/** Reads a text or JSONL calibration file into documents. JSONL is detected by extension or content. */
export function readCalibrationDocuments(file: string, opts: ReadDocumentsOptions = {}): CalibrationDocuments {
  return runNow(documentSteps(readText(file), file, opts));
}

/** readCalibrationDocuments with the file read asynchronously and the rows parsed in time slices. */
export async function readCalibrationDocumentsSliced(file: string, opts: ReadDocumentsOptions & SliceOptions = {}): Promise<CalibrationDocuments> {
  let text: string;
  try {
    text = await fs.promises.readFile(file, { encoding: 'utf8', signal: opts.signal });
  } catch (e) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    throw cannotRead(file, e);
  }
  return runInSlices(documentSteps(text, file, opts), opts);
}

/** Lines of plain text between two steps (a line costs little). */
const TEXT_LINES_PER_STEP = 1024;

/** The documents of a calibration file's text: one step per JSONL row, or per TEXT_LINES_PER_STEP lines. */
function* documentSteps(text: string, file: string, opts: ReadDocumentsOptions): Steps<CalibrationDocuments> {
  const lines = text.split(/\r?\n/);
  const firstLine = lines.find((l) => l.trim() !== '') ?? '';
  const jsonl = /\.jsonl$/i.test(file) || firstLine.trimStart().startsWith('{');
  const docs: string[] = [];
  let skipped = 0;
  let chat: 'template' | 'plain' | undefined;
  if (!jsonl) {
    for (let i = 0; i < lines.length; i++) {
      if (lines[i].trim() !== '') docs.push(lines[i]);
      if ((i + 1) % TEXT_LINES_PER_STEP === 0) yield;
    }
  } else {
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i];
      if (l.trim() === '') continue;
      let row: unknown;
      try {
        row = JSON.parse(l);
      } catch (e) {
        throw new CalibrationError(`line ${i + 1} is not valid JSON (${(e as Error).message})`, file);
      }
      const r = row as { text?: unknown; messages?: unknown };
      if (typeof r.text === 'string' && r.text.trim() !== '') {
        docs.push(r.text);
      } else if (Array.isArray(r.messages) && r.messages.length > 0) {
        const msgs = r.messages as ChatMessage[];
        if (!msgs.every((m) => m && typeof m.role === 'string' && typeof m.content === 'string'))
          throw new CalibrationError(`line ${i + 1}: messages must be {role, content} strings`, file);
        chat = opts.renderChat ? 'template' : 'plain';
        try {
          docs.push((opts.renderChat ?? plainChat)(msgs));
        } catch (e) {
          throw new CalibrationError(`line ${i + 1}: ${(e as Error).message}`, file);
        }
      } else {
        skipped++;
      }
      yield;
    }
  }
  if (docs.length === 0)
    throw new CalibrationError(
      jsonl ? 'no usable text: no row has a non-empty "text" field or "messages"' : 'no usable text: the file is empty or blank',
      file,
    );
  return { file, format: jsonl ? 'jsonl' : 'text', documents: docs, chat, skipped };
}

/** Reads token ids from a JSON array of integers. */
export function readTokenIds(file: string, vocabSize?: number): Int32Array {
  let v: unknown;
  try {
    v = JSON.parse(readText(file));
  } catch (e) {
    if (e instanceof CalibrationError) throw e;
    throw new CalibrationError(`not valid JSON (${(e as Error).message}); expected an array of token ids`, file);
  }
  if (!Array.isArray(v)) throw new CalibrationError('expected a JSON array of integer token ids', file);
  const out = new Int32Array(v.length);
  v.forEach((x, i) => {
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || (vocabSize !== undefined && x >= vocabSize))
      throw new CalibrationError(
        `element ${i} is ${JSON.stringify(x)}: token ids must be integers in [0, ${vocabSize ?? '2^31'})`,
        file,
      );
    out[i] = x;
  });
  return out;
}
