// JSON from model files (config.json, the shard index, safetensors headers), parsed only
// after a byte scan has bounded what JSON.parse can build: 20 MB of "[0,0,0,..." would
// otherwise become 10 million boxed values (hundreds of MB) before any field is checked.
import * as fs from 'node:fs';

import { FormatError } from '../errors';

/** Far above real files (a 100k-tensor safetensors header has ~1M values); ~200 MB of JS at worst. */
export const MAX_JSON_VALUES = 1 << 22;
/** config.json and model.safetensors.index.json are kilobytes to a few MB. */
export const MAX_JSON_FILE_BYTES = 64 * 2 ** 20;

/** serde_json's recursion limit (safetensors and HF tokenizers parse with it); deeper is never a real model file. */
export const MAX_JSON_DEPTH = 128;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/**
 * What JSON.parse would build from `b`, found by one byte scan: an upper bound on the
 * values (commas and openings outside strings, plus one) and the deepest nesting.
 */
export function jsonShape(b: Uint8Array): { values: number; depth: number } {
  let values = 1;
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === COMMA) values++;
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      values++;
      if (++depth > deepest) deepest = depth;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--;
  }
  return { values, depth: deepest };
}

/** Refuses JSON bytes that would build too many values or nest too deep; `what` names it in errors. */
export function checkJsonShape(file: string, bytes: Uint8Array, what: string): void {
  const shape = jsonShape(bytes);
  if (shape.values > MAX_JSON_VALUES)
    throw new FormatError(file, `${what} holds about ${shape.values} JSON values, more than the ${MAX_JSON_VALUES} accepted: corrupt or hostile`);
  // Deep nesting would also overflow the stack of every recursive walk (messages stringify values).
  if (shape.depth > MAX_JSON_DEPTH)
    throw new FormatError(file, `${what} nests JSON ${shape.depth} levels deep, more than the ${MAX_JSON_DEPTH} accepted: corrupt or hostile`);
}

/** Parses `bytes` (UTF-8 JSON) that must hold an object; `what` names it in errors. */
export function parseJsonObject(file: string, bytes: Uint8Array, what: string): Record<string, unknown> {
  checkJsonShape(file, bytes, what);
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (e) {
    throw new FormatError(file, `${what} is not valid JSON (${(e as Error).message})`, { cause: e });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new FormatError(file, `${what} must hold a JSON object (got ${Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v})`);
  return v as Record<string, unknown>;
}

/**
 * Reads a JSON object from a side file (config.json, the shard index, tokenizer.json,
 * tokenizer_config.json; `what` names it in errors) after checking its size and shape.
 */
export function readJsonFile(file: string, what = 'the file'): Record<string, unknown> {
  let bytes: Buffer;
  try {
    const size = fs.statSync(file).size;
    if (size > MAX_JSON_FILE_BYTES) throw new FormatError(file, `${what} is ${size} bytes, more than the ${MAX_JSON_FILE_BYTES} accepted for a JSON file`);
    bytes = fs.readFileSync(file);
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError(file, `cannot read ${what} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
  }
  return parseJsonObject(file, bytes, what);
}
