// JSON from model files (config.json, the shard index, safetensors headers), parsed only
// after a byte scan has bounded what JSON.parse can build: 20 MB of "[0,0,0,..." would
// otherwise become 10 million boxed values (hundreds of MB) before any field is checked.
import * as fs from 'node:fs';

import { FormatError } from '../errors';

/** Far above real files (a 100k-tensor safetensors header has ~1M values); ~200 MB of JS at worst. */
export const MAX_JSON_VALUES = 1 << 22;
/** config.json and model.safetensors.index.json are kilobytes to a few MB. */
export const MAX_JSON_FILE_BYTES = 64 * 2 ** 20;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;

/** An upper bound on the values a JSON text holds: commas and openings outside strings, plus one. */
export function jsonValueBound(b: Uint8Array): number {
  let n = 1;
  let inString = false;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === COMMA || c === OPEN_ARRAY || c === OPEN_OBJECT) n++;
  }
  return n;
}

/** Parses `bytes` (UTF-8 JSON) that must hold an object; `what` names it in errors. */
export function parseJsonObject(file: string, bytes: Uint8Array, what: string): Record<string, unknown> {
  const values = jsonValueBound(bytes);
  if (values > MAX_JSON_VALUES) throw new FormatError(file, `${what} holds about ${values} JSON values, more than the ${MAX_JSON_VALUES} accepted: corrupt or hostile`);
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (e) {
    throw new FormatError(file, `${what} is invalid JSON: ${(e as Error).message}`, { cause: e });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FormatError(file, `${what} is not a JSON object (got ${Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v})`);
  return v as Record<string, unknown>;
}

/** Reads a JSON side file (config.json, the shard index) after checking its size. */
export function readJsonFile(file: string): Record<string, unknown> {
  let bytes: Buffer;
  try {
    const size = fs.statSync(file).size;
    if (size > MAX_JSON_FILE_BYTES) throw new FormatError(file, `is ${size} bytes, more than the ${MAX_JSON_FILE_BYTES} accepted for a JSON model file`);
    bytes = fs.readFileSync(file);
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError(file, `cannot read: ${(e as Error).message}`, { cause: e });
  }
  return parseJsonObject(file, bytes, 'the file');
}
